// inotify on the config file's folder and rules.d, debounced, for hot reload.
import CLinux
import Notify
#if canImport(Glibc)
import Glibc
#endif

/// Watches folders for changes to the files shd reads and calls `onChange` once a burst of
/// events has been quiet for `debounce` seconds. Editors that write a temp file and rename it
/// produce IN_MOVED_TO; `sed -i` and `cp` produce IN_CLOSE_WRITE; both are seen.
///
/// With `contents` (watched files), writes to a file kept open (IN_MODIFY) and changes of mode, owner or
/// link count (IN_ATTRIB) count too, and `onChange` comes `debounce` after the first event of a burst
/// instead of after the burst: a file written without pause is still collected, at most once per `debounce`.
public final class FileWatcher {
    private let fd: Int32
    private let loop: EventLoop
    private let debounce: Double
    private var pending: TimerID?
    private var watches: [Int32: String] = [:]
    private let onChange: () -> Void
    private let directories: [String]
    private let mask: UInt32
    private let throttle: Bool
    private static let configurationMask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)

    /// (Re)adds a watch for every folder that exists: a folder deleted and created again (a
    /// deployment tool replacing rules.d) is watched again on the next event or reload.
    private func addWatches() {
        for d in directories {
            let wd = inotify_add_watch(fd, d, mask)
            if wd >= 0 { watches[wd] = d }
        }
    }

    public init(loop: EventLoop, directories: [String], debounce: Double = 0.02, contents: Bool = false,
                onChange: @escaping () -> Void) throws(SystemError) {
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if fd < 0 { throw SystemError("inotify_init1") }
        mask = contents ? FileWatcher.configurationMask | UInt32(IN_MODIFY | IN_ATTRIB) : FileWatcher.configurationMask
        throttle = contents
        self.loop = loop
        self.debounce = debounce
        self.onChange = onChange
        self.directories = Array(Set(directories)).sorted()
        addWatches()
        let fd = self.fd
        loop.watch(fd: fd, interest: .read) { [weak self] _ in
            var buf = [UInt8](repeating: 0, count: 8192)
            var any = false
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                if FileWatcher.meaningful(buf[..<n]) { any = true }
            }
            if any { self?.schedule() }
        }
    }

    /// True unless every record is the creation of a file: a file just created is still empty (its
    /// IN_CLOSE_WRITE, or the IN_MOVED_TO of an editor's rename, follows when it is written). Reloading on
    /// IN_CREATE read half-written rules on a loaded machine: for a moment a channel was gone and the
    /// notifications queued for it were dropped. A folder's creation (rules.d made again) still counts.
    static func meaningful(_ records: ArraySlice<UInt8>) -> Bool {
        var off = records.startIndex
        while off + 16 <= records.endIndex {
            let mask = records[(off + 4)..<(off + 8)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let len = records[(off + 12)..<(off + 16)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            if mask & UInt32(IN_CREATE) == 0 || mask & UInt32(IN_ISDIR) != 0 { return true }
            off += 16 + Int(len)
        }
        return false
    }

    /// Folders being watched (those that existed at start).
    public var watchedDirectories: [String] { Array(watches.values).sorted() }
    /// Folders asked for, sorted (whether they exist or not).
    public var configuredDirectories: [String] { directories }

    private func schedule() {
        if throttle && pending != nil { return }
        if let p = pending { loop.cancelTimer(p) }
        pending = loop.addTimer(after: debounce) { [weak self] in
            self?.pending = nil
            self?.addWatches()
            self?.onChange()
        }
    }

    deinit {
        loop.unwatch(fd: fd)
        close(fd)
    }
}
