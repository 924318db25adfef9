// The pure part of tailing a text file (`rule X on file "PATH"`): bytes in, lines out, and what a file's (inode, size)
// says happened to it (grown, truncated, replaced, gone). The daemon's I/O layer (Daemon/FileTails.swift), the fuzz
// target and `shd test-rules` share it; no system call here.

/// Splits a byte stream into lines as it arrives: a line ends at `\n` (a `\r` before it is dropped); a last line
/// without its newline is held until the newline comes. A line longer than ``maxLine`` bytes is cut there (the
/// first ``maxLine`` bytes become the line, the rest up to the newline is skipped) and counted in ``cutLines``.
/// Empty lines are skipped. Invalid UTF-8 becomes U+FFFD.
public struct LineSplitter: Sendable, Equatable {
    /// The longest line kept whole (64 KiB): a runaway writer without newlines cannot grow shd's memory.
    public static let maxLine = 64 << 10

    public let maxLine: Int
    /// The bytes of the line not ended yet.
    public private(set) var held: [UInt8] = []
    /// Skipping the rest of a line that was cut, up to its newline.
    public private(set) var skipping = false
    /// Lines longer than ``maxLine``, since this splitter was made.
    public private(set) var cutLines = 0

    /// - Parameter skippingToNewline: the first bytes fed are the end of a line that began before (a file read from
    ///   the end it had when shd started): they are skipped up to the first newline.
    public init(maxLine: Int = LineSplitter.maxLine, skippingToNewline: Bool = false) {
        self.maxLine = max(1, maxLine)
        skipping = skippingToNewline
    }

    /// Bytes read but not handed out as a line yet (the held partial line): a restart re-reads them.
    public var pendingBytes: Int { held.count }

    /// The complete lines `bytes` ends, in order; the tail without a newline is held for the next call.
    public mutating func feed<C: Collection>(_ bytes: C) -> [String] where C.Element == UInt8 {
        var lines: [String] = []
        feed(bytes) { lines.append($0) }
        return lines
    }

    /// As ``feed(_:)``, handing each line to `line` (no array of lines for a large read).
    public mutating func feed<C: Collection>(_ bytes: C, line: (String) -> Void) where C.Element == UInt8 {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            guard let nl = bytes[i...].firstIndex(of: 0x0A) else {
                take(bytes[i...], line: line)
                return
            }
            take(bytes[i..<nl], line: line)
            if skipping {
                skipping = false
            } else {
                emit(line)
            }
            held.removeAll(keepingCapacity: true)
            i = bytes.index(after: nl)
        }
    }

    /// The held partial line as a line (the file ended for good: rotated away, deleted, truncated), or nil.
    public mutating func finish() -> String? {
        defer {
            held.removeAll(keepingCapacity: false)
            skipping = false
        }
        guard !skipping, !held.isEmpty else { return nil }
        // A lone `\r` held is an empty line, and empty lines are not entries.
        let s = text(held[...])
        return s.isEmpty ? nil : s
    }

    /// Bytes of a line not ended in this chunk: held, or the cut made when the line passes `maxLine`.
    private mutating func take<C: Collection>(_ part: C, line: (String) -> Void) where C.Element == UInt8 {
        guard !skipping, !part.isEmpty else { return }
        let room = maxLine - held.count
        if part.count <= room {
            held.append(contentsOf: part)
            return
        }
        held.append(contentsOf: part.prefix(room))
        cutLines += 1
        emit(line)
        held.removeAll(keepingCapacity: true)
        skipping = true
    }

    private func emit(_ line: (String) -> Void) {
        let s = text(held[...])
        if !s.isEmpty { line(s) }
    }

    private func text(_ b: ArraySlice<UInt8>) -> String {
        var end = b.endIndex
        if end > b.startIndex, b[end - 1] == 0x0D { end -= 1 }
        return String(decoding: b[b.startIndex..<end], as: UTF8.self)
    }
}

/// A file's identity: the device and inode `stat` gives. A path that names another identity is another file.
public struct FileIdentity: Sendable, Hashable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    public var description: String { "\(device):\(inode)" }
}

/// What happened to a tailed file, from the open file's identity, the offset read up to, its size now and what the
/// path names now. Decided before each read; the daemon acts on it.
public enum TailChange: Sendable, Equatable {
    /// The same file: read on from the offset (nothing new when the size equals it).
    case same
    /// The same file, shorter than what was read (copytruncate, `> file`): read it again from the start.
    case truncated
    /// The path names another file now (rotation by rename and create): finish the open one, then read the new one
    /// from the start.
    case replaced(FileIdentity)
    /// Nothing at the path (renamed away and not created yet, or deleted): finish the open one when it was deleted
    /// (`linked == false`), otherwise keep reading it, and wait for the path to appear.
    case gone(linked: Bool)

    /// - Parameters:
    ///   - open: the identity of the file shd holds open; `size` and `links` from its fstat.
    ///   - offset: the bytes read of it so far.
    ///   - atPath: what `stat` of the path gives now (nil: no such file).
    public static func decide(open: FileIdentity, size: UInt64, links: UInt64, offset: UInt64, atPath: FileIdentity?) -> TailChange {
        guard let now = atPath else { return .gone(linked: links > 0) }
        if now != open { return .replaced(now) }
        return size < offset ? .truncated : .same
    }
}

/// Where to start reading a file that is opened (at start, on a reload, when it appears), from what was saved with
/// the alert state: the identity and offset of the file last read at that path.
public enum TailStart: Sendable, Equatable {
    /// At `offset`: the bytes before it were read before the restart.
    case resume(UInt64)
    /// From the start: a file that appeared while shd followed its folder (or while it was down, at a path it followed),
    /// or the same file truncated since.
    case beginning
    /// At its end: a file seen for the first time (its history is not replayed).
    case end

    /// - Parameters:
    ///   - identity, size: the file opened now.
    ///   - saved: the identity and offset saved for the path (nil: none).
    ///   - known: the path's folder and pattern were followed before (at a restart: saved with the state), so a file
    ///     there that has no saved offset is new and read from the start.
    public static func decide(identity: FileIdentity, size: UInt64, saved: (identity: FileIdentity, offset: UInt64)?, known: Bool) -> TailStart {
        if let s = saved {
            if s.identity != identity { return .beginning }
            return s.offset <= size ? .resume(s.offset) : .beginning
        }
        return known ? .beginning : .end
    }
}

/// A `file` source's path: an absolute folder and a file name that may hold glob wildcards (`*`, `?`, `[…]`).
public struct FilePathPattern: Sendable, Hashable {
    public let directory: String
    public let name: String
    private let glob: Pattern?

    public static func == (a: FilePathPattern, b: FilePathPattern) -> Bool { a.directory == b.directory && a.name == b.name }
    public func hash(into h: inout Hasher) {
        h.combine(directory)
        h.combine(name)
    }

    /// Splits `path`; nil when it is not absolute, ends in `/`, or has a wildcard before its last `/`.
    public init?(_ path: String) {
        guard path.hasPrefix("/"), !path.hasSuffix("/"), let slash = path.lastIndex(of: "/") else { return nil }
        let dir = String(path[..<slash])
        guard !dir.contains(where: { "*?[".contains($0) }), !dir.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) else { return nil }
        let name = String(path[path.index(after: slash)...])
        guard name != ".", name != ".." else { return nil }
        directory = dir.isEmpty ? "/" : dir
        self.name = name
        glob = name.contains { "*?[".contains($0) } ? Pattern.glob(name) : nil
    }

    public var path: String { (directory == "/" ? "" : directory) + "/" + name }
    public var isGlob: Bool { glob != nil }

    /// Whether a file name in ``directory`` is one this pattern names (dot files only when the pattern starts with `.`).
    public func matches(name candidate: String) -> Bool {
        guard let glob else { return candidate == name }
        if candidate.hasPrefix(".") && !name.hasPrefix(".") { return false }
        return glob.matches(candidate)
    }
}
