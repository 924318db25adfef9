// Which inotify records make the rules folder's watcher reload: not a file's bare creation (it is still empty).
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Daemon

@Suite struct FileWatcherTests {
    /// One inotify_event record (wd, mask, cookie, len, name padded to 16 bytes), as the kernel writes it.
    static func record(_ mask: UInt32, _ name: String) -> [UInt8] {
        var name = Array(name.utf8) + [0]
        while name.count % 16 != 0 { name.append(0) }
        func le(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        return le(1) + le(mask) + le(0) + le(UInt32(name.count)) + name
    }

    @Test(arguments: [
        ([UInt32(IN_CREATE)], false),                          // open(O_CREAT): nothing written yet
        ([UInt32(IN_CREATE), UInt32(IN_CREATE)], false),
        ([UInt32(IN_CREATE), UInt32(IN_CLOSE_WRITE)], true),   // cp, or a shell's redirection, done
        ([UInt32(IN_MOVED_TO)], true),                         // an editor's rename
        ([UInt32(IN_DELETE)], true),
        ([UInt32(IN_CREATE) | UInt32(IN_ISDIR)], true),        // rules.d made again
    ])
    func reloadsOnlyOnWhatChangesTheRules(_ masks: [UInt32], _ reload: Bool) {
        let bytes = masks.flatMap { Self.record($0, "zz-test.rules") }
        #expect(FileWatcher.meaningful(bytes[...]) == reload)
    }
}
