// Fuzz target: the journal export format (JournalExport.parse, read by test-rules from recorded samples): any bytes
// either parse or throw an error naming a line inside the input, never trap (a binary field's 64-bit length of any
// value, a missing newline, names that are not field names).
@testable import Rules
import Reports

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExport(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        for e in try JournalExport.parse(bytes) { _ = EventSources.journalEntry(e.fields, time: Timestamp(microseconds: 0)) }
    } catch {
        var lines = 1
        for b in bytes where b == 0x0A { lines += 1 }
        precondition(error.line >= 1 && error.line <= lines, "error line \(error.line) outside the input (\(lines) lines)")
    }
    return 0
}
