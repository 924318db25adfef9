// Fuzz target: the control socket's request parser (ControlRequest.parse, every line a client sends): it must never
// trap, every request it accepts must encode and parse back to itself, and every answer line must be one JSON line.
import Reports
@testable import Daemon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let line = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let r = try ControlRequest.parse(line)
        let again = try ControlRequest.parse(Array(r.json.encoded().utf8))
        if again != r { fatalError("\(r) encodes to a request that parses as \(again)") }
    } catch {
        let answer = ControlResponse.line(ControlResponse.failure(error))
        if answer.dropLast().contains(0x0A) || answer.last != 0x0A { fatalError("an answer is not one line") }
    }
    return 0
}
