// The cpu worker. (Placeholder: its functions land with issue #2's worker work.)
import Reports

enum CPUWorker {
    static func make() -> Worker { Worker(name: "cpu", functions: []) }
}
