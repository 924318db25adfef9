// The disk worker. (Placeholder: its functions land with issue #2's worker work.)
import Reports

enum DiskWorker {
    static func make() -> Worker { Worker(name: "disk", functions: []) }
}
