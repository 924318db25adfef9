// The network worker. (Placeholder: its functions land with issue #2's worker work.)
import Reports

enum NetworkWorker {
    static func make() -> Worker { Worker(name: "network", functions: []) }
}
