// Loading a rule set: reading files and directories (size-capped, binary rejected), parsing and checking them.
#if canImport(Glibc)
import Alerting
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Kit
import Reports

/// What loading a rule set produced: a configuration when there are no errors, and every diagnostic.
public struct LoadResult: Sendable {
    /// nil when there are errors.
    public var configuration: Configuration?
    public var diagnostics: [Diagnostic]
    /// File texts by name, for printing source lines under diagnostics.
    public var sources: [String: String]
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    public var errorCount: Int { diagnostics.filter { $0.severity == .error }.count }
    public var warningCount: Int { diagnostics.filter { $0.severity == .warning }.count }
}

/// Loads and checks shd.conf and rules files.
public enum RuleSetLoader {
    /// Files larger than this are refused: a configuration is never megabytes long, and the checker stays fast.
    public static let maxFileSize = 4 << 20

    /// Loads `paths`: files, or directories whose `*.rules` files are read in name order.
    /// - Parameter missingOK: skip paths that do not exist (the daemon's default locations) instead of an error.
    public static func load(paths: [String], catalog: Catalog, missingOK: Bool = false) -> LoadResult {
        var diagnostics: [Diagnostic] = []
        var files: [(String, [UInt8])] = []
        for path in paths {
            var st = stat()
            if stat(path, &st) != 0 {
                let e = errno
                if missingOK && e == ENOENT { continue }
                diagnostics.append(ioError(path, "cannot read: " + String(cString: strerror(e))))
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                switch listRulesFiles(path) {
                case .success(let names):
                    for n in names { read(path + (path.hasSuffix("/") ? "" : "/") + n, into: &files, &diagnostics) }
                case .failure(let e):
                    diagnostics.append(ioError(path, "cannot list directory: " + e.message))
                }
            } else {
                read(path, into: &files, &diagnostics)
            }
        }
        return check(files: files, catalog: catalog, earlier: diagnostics)
    }

    /// Parses and checks texts already in memory (`(file name, contents)`), e.g. for tests and the fuzzer.
    public static func load(sources: [(String, String)], catalog: Catalog) -> LoadResult {
        check(files: sources.map { ($0.0, Array($0.1.utf8)) }, catalog: catalog, earlier: [])
    }

    struct IOFailure: Error { var message: String }

    static func ioError(_ path: String, _ message: String) -> Diagnostic {
        Diagnostic(.ioError, message, at: SourceLocation(file: path, line: 1, column: 1))
    }

    static func listRulesFiles(_ dir: String) -> Result<[String], IOFailure> {
        let names: [String]
        do { names = try readDirectory(dir).filter { $0.hasSuffix(".rules") && !$0.hasPrefix(".") } } catch {
            return .failure(IOFailure(message: errnoText(error.errno)))
        }
        // Byte order, not locale order: the same on every machine.
        return .success(names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
    }

    static func read(_ path: String, into files: inout [(String, [UInt8])], _ diagnostics: inout [Diagnostic]) {
        // O_NONBLOCK: opening a FIFO named *.rules must not block the daemon's loop (it waits for a writer).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            diagnostics.append(ioError(path, "cannot read: " + String(cString: strerror(errno))))
            return
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
            diagnostics.append(ioError(path, "cannot read: not a regular file (a directory, FIFO, socket or device)"))
            return
        }
        // Read straight into the result, sized from fstat plus one byte to see the end of the file in the same call (a
        // file that grows meanwhile is still read to its end). No intermediate chunk: a 64 KiB buffer per file, freed
        // again, made malloc consolidate its free lists once per file.
        let expected = st.st_size > 0 ? min(Int(st.st_size), maxFileSize + 1) : 0
        var bytes = [UInt8](repeating: 0, count: max(expected + 1, 4096))
        var used = 0
        while true {
            if used == bytes.count { bytes.append(contentsOf: repeatElement(0, count: bytes.count)) }
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + used, $0.count - used) }
            if n < 0 {
                if errno == EINTR { continue }
                diagnostics.append(ioError(path, "cannot read: " + String(cString: strerror(errno))))
                return
            }
            if n == 0 { break }
            used += n
            if used > maxFileSize {
                diagnostics.append(Diagnostic(.fileTooLarge,
                                              "file is larger than \(maxFileSize >> 20) MiB; a rules file is text of a few kilobytes",
                                              at: SourceLocation(file: path, line: 1, column: 1)))
                return
            }
        }
        bytes.removeLast(bytes.count - used)
        files.append((path, bytes))
    }

    /// Rejects binary and non-UTF-8 content with a clear message, then parses and checks every file together.
    static func check(files: [(String, [UInt8])], catalog: Catalog, earlier: [Diagnostic]) -> LoadResult {
        var diagnostics = earlier
        var asts: [AST] = []
        asts.reserveCapacity(files.count)
        var sources: [String: String] = [:]
        sources.reserveCapacity(files.count)
        for (name, bytes) in files {
            if bytes.count > maxFileSize {
                diagnostics.append(Diagnostic(.fileTooLarge, "file is larger than \(maxFileSize >> 20) MiB",
                                              at: SourceLocation(file: name, line: 1, column: 1)))
                continue
            }
            let plain = isASCIIWithoutNUL(bytes)
            if !plain, let nul = bytes.firstIndex(of: 0) {
                diagnostics.append(Diagnostic(.fileBinary, "this is a binary file (NUL byte at offset \(nul)), not a rules file",
                                              at: position(bytes, nul, name)))
                continue
            }
            if !plain, let bad = firstInvalidUTF8(bytes) {
                diagnostics.append(Diagnostic(.fileEncoding, "invalid UTF-8 at byte offset \(bad); rules files are UTF-8 text",
                                              at: position(bytes, bad, name)))
                continue
            }
            let text = String(decoding: bytes, as: UTF8.self)
            sources[name] = text
            let (ast, diags) = RuleParser.parse(bytes: bytes, file: name)
            diagnostics += diags
            asts.append(ast)
        }
        var checker = Checker(catalog: catalog)
        let config = checker.check(&asts)
        diagnostics += checker.diagnostics
        // One message per problem (a `clear < N` shorthand re-checks the trigger's left side), in reading order.
        var seen: Set<String> = []
        diagnostics = diagnostics.filter { seen.insert("\($0.id)|\($0.location)|\($0.message)").inserted }
        let fileOrder = Dictionary(files.enumerated().map { ($1.0, $0) }, uniquingKeysWith: { a, _ in a })
        diagnostics = diagnostics.enumerated().sorted { a, b in
            let fa = fileOrder[a.element.location.file] ?? -1, fb = fileOrder[b.element.location.file] ?? -1
            if fa != fb { return fa < fb }
            if a.element.location.line != b.element.location.line { return a.element.location.line < b.element.location.line }
            if a.element.location.column != b.element.location.column { return a.element.location.column < b.element.location.column }
            return a.offset < b.offset
        }.map(\.element)
        var result = LoadResult(configuration: nil, diagnostics: diagnostics, sources: sources)
        if !result.hasErrors {
            var c = config
            c.files = files.map(\.0)
            result.configuration = c
        }
        return result
    }

    static func position(_ bytes: [UInt8], _ offset: Int, _ file: String) -> SourceLocation {
        var line = 1, col = 1
        for b in bytes[0..<offset] {
            if b == 0x0A { line += 1; col = 1 } else if b & 0xC0 != 0x80 { col += 1 }
        }
        return SourceLocation(file: file, line: line, column: col)
    }

    /// True when every byte is in 1...127: then there is neither a NUL nor invalid UTF-8 (the common case, checked
    /// eight bytes at a time before the byte-by-byte scans).
    static func isASCIIWithoutNUL(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            let n = raw.count
            var i = 0
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            while i + 8 <= n {
                let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                // A high bit set, or a zero byte (the classic has-zero-byte test), anywhere in the word.
                if (w & highs) != 0 || ((w &- ones) & ~w & highs) != 0 { return false }
                i += 8
            }
            while i < n {
                let c = raw[i]
                if c == 0 || c >= 0x80 { return false }
                i += 1
            }
            return true
        }
    }

    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let n: Int
            if b < 0x80 { i += 1; continue }
            else if b & 0xE0 == 0xC0 && b >= 0xC2 { n = 1 }
            else if b & 0xF0 == 0xE0 { n = 2 }
            else if b & 0xF8 == 0xF0 && b <= 0xF4 { n = 3 }
            else { return i }
            guard i + n < bytes.count else { return i }
            for k in 1...n where bytes[i + k] & 0xC0 != 0x80 { return i }
            i += n + 1
        }
        return nil
    }
}
