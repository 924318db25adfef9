// Fuzz target: the commit journal's recovery (STATE_DIR/journal read at every start, Journal.recover): the input is
// the journal file; recovery must never trap on a torn, reordered or absurd record (a commit number of 1e300, a
// count that is not a whole number, a notification line that is not a spool entry), and what it keeps must be a
// prefix of whole commits.
import Reports
@testable import Notify
#if canImport(Glibc)
import Glibc
#endif

let journalDir: String = {
    var template = Array("/tmp/shd-fuzz-journal-XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { fatalError("mkdtemp failed") }
    return String(cString: p)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJournal(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let path = journalDir + "/journal"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(path)") }
    var off = 0
    while off < size {
        let n = write(fd, data + off, size - off)
        guard n > 0 else { fatalError("short write to \(path)") }
        off += n
    }
    close(fd)
    guard let journal = try? Journal(directory: journalDir) else { return 0 }
    let r = journal.recover(committedThrough: 0)
    // What recovery keeps is cut to a whole-commit prefix of the input.
    if journal.size > size { fatalError("recovered \(journal.size) bytes of a \(size)-byte journal") }
    for e in r.entries { if let j = e.journal, j.offset + j.length > journal.size { fatalError("entry past the kept prefix") } }
    return 0
}
