// The system worker. (Placeholder: its functions land with issue #2's worker work.)
import Reports

enum SystemWorker {
    static func make() -> Worker { Worker(name: "system", functions: []) }
}
