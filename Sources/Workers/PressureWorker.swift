// The pressure worker. (Placeholder: its functions land with issue #2's worker work.)
import Reports

enum PressureWorker {
    static func make() -> Worker { Worker(name: "pressure", functions: []) }
}
