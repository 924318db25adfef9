// The processes worker. (Placeholder: its functions land with issue #2's worker work.)
import Reports

enum ProcessesWorker {
    static func make() -> Worker { Worker(name: "processes", functions: []) }
}
