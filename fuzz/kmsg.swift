// Fuzz target: /dev/kmsg records (KmsgRecord.parseAll, what the kernel-log reader and test-rules parse): any bytes
// must parse without trapping, every record's priority must be 0-7, and each entry it becomes must match the event
// rules' regexes (a `/…/` search with named groups over the message) without trapping either.
import Reports
@testable import Rules

let patterns: [Pattern] = [
    try! Pattern.regexSearch(#"I/O error(?:,| on) dev (?<device>[A-Za-z0-9_.-]+)"#),
    try! Pattern.regexSearch(#"task (?<task>\S+):\d+ blocked for more than \d+ seconds"#),
    try! Pattern.regexSearch(#"\[Hardware Error\]|Machine check events logged|EDAC MC\d+: \d+ CE "#),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKmsg(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let (records, _) = KmsgRecord.parseAll(bytes)
    for r in records {
        precondition(r.priority >= 0 && r.priority <= 7, "priority out of range")
        let e = r.entry(at: Timestamp(microseconds: 0))
        for p in patterns { _ = p.captures(e.message) }
    }
    return 0
}
