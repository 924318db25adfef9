// Fuzz target: the file tail's line splitter (LineSplitter, what Daemon/FileTails.swift feeds every read through) and
// the inotify record parser. The first byte picks a read size and a line limit; the rest is the file's bytes. However
// the bytes are cut into reads, the lines, the held partial line and the cut count must be the same as in one read;
// no line may hold a newline, be empty, or pass the limit; and an event rule's regex over each line must not trap.
@testable import Daemon
import Reports
@testable import Rules

let patterns: [Pattern] = [
    try! Pattern.regexSearch(#"ERROR (?<code>\w+)"#),
    try! Pattern.regexSearch(#"\[(?:error|crit)\] .* upstream: "(?<upstream>https?:\/\/[^\/"]+)"#),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTail(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let chunk = Int(data[0] & 0x1F) + 1
    let maxLine = data[0] & 0x20 != 0 ? 8 : LineSplitter.maxLine
    var whole = LineSplitter(maxLine: maxLine)
    let expected = whole.feed(bytes)
    var parts = LineSplitter(maxLine: maxLine)
    var got: [String] = []
    var i = 0
    while i < bytes.count {
        got += parts.feed(bytes[i..<min(bytes.count, i + chunk)])
        i += chunk
    }
    precondition(got == expected, "lines depend on how the bytes were read")
    precondition(parts.held == whole.held && parts.cutLines == whole.cutLines && parts.skipping == whole.skipping, "state depends on the reads")
    precondition(parts.pendingBytes <= maxLine, "held more than a line")
    for l in got {
        precondition(!l.isEmpty && !l.utf8.contains(0x0A), "an empty line or a newline inside a line")
        // Each byte of the file becomes at most one U+FFFD (3 bytes) of the line.
        precondition(l.utf8.count <= 3 * maxLine, "a line past the limit")
        for p in patterns { _ = p.captures(l) }
    }
    if let last = parts.finish() { precondition(!last.isEmpty && !last.utf8.contains(0x0A)) }
    precondition(parts.pendingBytes == 0)
    _ = InotifyRecord.parse(bytes)
    return 0
}
