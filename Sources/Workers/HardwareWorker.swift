// The hardware worker. (Placeholder: its functions land with issue #2's worker work.)
import Reports

enum HardwareWorker {
    static func make() -> Worker { Worker(name: "hardware", functions: []) }
}
