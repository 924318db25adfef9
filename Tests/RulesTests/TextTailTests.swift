// The pure part of the file tail: the line splitter (chunks in, lines out, partial lines held, long lines cut), the
// rotation decision from (identity, size) pairs, where a reopened file starts, and the file source's path patterns.
@testable import Rules
import Testing

@Suite struct LineSplitterTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        /// What arrives, one read at a time.
        var chunks: [String]
        var lines: [String]
        /// The partial line held after the last chunk.
        var held = ""
        var maxLine = 64 << 10
        var cut = 0
        var description: String { name }
    }

    static let cases: [Case] = [
        .init(name: "whole lines", chunks: ["a\nb\n"], lines: ["a", "b"]),
        .init(name: "a partial last line is held", chunks: ["a\nbc"], lines: ["a"], held: "bc"),
        .init(name: "the held line ends in the next read", chunks: ["a\nb", "c\nd"], lines: ["a", "bc"], held: "d"),
        .init(name: "a line split over many reads", chunks: ["E", "RR", "OR x", "\n"], lines: ["ERROR x"]),
        .init(name: "CRLF ends a line too", chunks: ["a\r\nb\r", "\n"], lines: ["a", "b"]),
        .init(name: "empty lines are skipped", chunks: ["\n\na\n\r\n\n"], lines: ["a"]),
        .init(name: "a newline alone in a read", chunks: ["abc", "\n", "\n"], lines: ["abc"]),
        .init(name: "a line longer than the limit is cut and counted", chunks: ["0123456789\nok\n"], lines: ["0123", "ok"], maxLine: 4, cut: 1),
        .init(name: "the cut line's rest is skipped across reads", chunks: ["01234", "56", "789\nok"], lines: ["0123"], held: "ok", maxLine: 4, cut: 1),
        .init(name: "a line of exactly the limit is whole", chunks: ["0123\n"], lines: ["0123"], maxLine: 4),
        .init(name: "the limit reached in one read, the newline in the next", chunks: ["0123", "\n"], lines: ["0123"], maxLine: 4),
        .init(name: "the limit passed in the next read", chunks: ["0123", "4\nx\n"], lines: ["0123", "x"], maxLine: 4, cut: 1),
        .init(name: "two long lines", chunks: ["aaaaaa\nbbbbbb\n"], lines: ["aaaa", "bbbb"], maxLine: 4, cut: 2),
        .init(name: "UTF-8 text", chunks: ["caf\u{e9} \u{2713}\n"], lines: ["café \u{2713}"]),
    ]

    @Test(arguments: cases)
    func splits(_ c: Case) {
        var s = LineSplitter(maxLine: c.maxLine)
        var lines: [String] = []
        for chunk in c.chunks { lines += s.feed(Array(chunk.utf8)) }
        #expect(lines == c.lines)
        #expect(String(decoding: s.held, as: UTF8.self) == c.held)
        #expect(s.pendingBytes == c.held.utf8.count)
        #expect(s.cutLines == c.cut)
    }

    @Test func invalidBytesBecomeReplacementCharacters() {
        var s = LineSplitter()
        #expect(s.feed([0x61, 0xFF, 0x62, 0x0A]) == ["a\u{FFFD}b"])
    }

    @Test func finishHandsOutTheHeldLineOnce() {
        var s = LineSplitter()
        #expect(s.feed(Array("a\nlast".utf8)) == ["a"])
        #expect(s.finish() == "last")
        #expect(s.finish() == nil)
        #expect(s.pendingBytes == 0)
        // A cut line's skipped rest is not a line when the file ends.
        var cut = LineSplitter(maxLine: 2)
        #expect(cut.feed(Array("abcdef".utf8)) == ["ab"])
        #expect(cut.finish() == nil)
        #expect(cut.feed(Array("x\n".utf8)) == ["x"])
        // Found by fuzz/tail: a file ending in a lone `\r` finished as an empty line.
        var cr = LineSplitter()
        #expect(cr.feed(Array("a\n\r".utf8)) == ["a"])
        #expect(cr.finish() == nil)
    }

    @Test func startingInsideALineSkipsItsRest() {
        var s = LineSplitter(skippingToNewline: true)
        #expect(s.feed(Array("end of an old line\nnew\n".utf8)) == ["new"])
        #expect(s.cutLines == 0)
    }

    /// However the bytes are cut into reads, the lines are the same.
    @Test(arguments: [1, 2, 3, 7, 64])
    func chunkingDoesNotChangeTheLines(_ size: Int) {
        let text = Array("first\r\nsecond line\n\nthird: ERROR E42 (x)\nlong-long-long-long\ntail".utf8)
        var whole = LineSplitter(maxLine: 12)
        let expected = whole.feed(text)
        var parts = LineSplitter(maxLine: 12)
        var got: [String] = []
        var i = 0
        while i < text.count {
            got += parts.feed(text[i..<min(text.count, i + size)])
            i += size
        }
        #expect(got == expected)
        #expect(expected == ["first", "second line", "third: ERROR", "long-long-lo"])
        #expect(parts.held == whole.held)
        #expect(parts.cutLines == 2)
    }
}

@Suite struct TailDecisionTests {
    static let a = FileIdentity(device: 2049, inode: 100)
    static let b = FileIdentity(device: 2049, inode: 200)

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var size: UInt64
        var links: UInt64 = 1
        var offset: UInt64
        var atPath: FileIdentity?
        var change: TailChange
        var description: String { name }
    }

    static let cases: [Case] = [
        .init(name: "grown", size: 200, offset: 100, atPath: a, change: .same),
        .init(name: "unchanged", size: 100, offset: 100, atPath: a, change: .same),
        .init(name: "copytruncate: shorter than what was read", size: 10, offset: 100, atPath: a, change: .truncated),
        .init(name: "truncated to nothing", size: 0, offset: 100, atPath: a, change: .truncated),
        .init(name: "renamed, a new file created at the path", size: 100, offset: 100, atPath: b, change: .replaced(b)),
        .init(name: "replaced, the old one still growing", size: 300, offset: 100, atPath: b, change: .replaced(b)),
        .init(name: "renamed away, nothing at the path yet", size: 100, offset: 100, atPath: nil, change: .gone(linked: true)),
        .init(name: "deleted", size: 100, links: 0, offset: 100, atPath: nil, change: .gone(linked: false)),
        .init(name: "same inode on another device is another file", size: 100, offset: 100,
              atPath: FileIdentity(device: 2050, inode: 100), change: .replaced(FileIdentity(device: 2050, inode: 100))),
    ]

    @Test(arguments: cases)
    func decides(_ c: Case) {
        #expect(TailChange.decide(open: Self.a, size: c.size, links: c.links, offset: c.offset, atPath: c.atPath) == c.change)
    }

    struct StartCase: Sendable, CustomStringConvertible {
        var name: String
        var identity: FileIdentity
        var size: UInt64
        var saved: FileIdentity?
        var offset: UInt64 = 0
        var known = false
        var start: TailStart
        var description: String { name }
    }

    static let starts: [StartCase] = [
        .init(name: "the same file: resume", identity: a, size: 500, saved: a, offset: 300, known: true, start: .resume(300)),
        .init(name: "the same file, nothing new", identity: a, size: 300, saved: a, offset: 300, known: true, start: .resume(300)),
        .init(name: "the same file, truncated while shd was down", identity: a, size: 100, saved: a, offset: 300, start: .beginning),
        .init(name: "another file at the path: rotated while shd was down", identity: b, size: 50, saved: a, offset: 300, start: .beginning),
        .init(name: "a followed pattern, a file that appeared while shd was down", identity: b, size: 50, known: true, start: .beginning),
        .init(name: "never followed: its history is not replayed", identity: b, size: 50, start: .end),
    ]

    @Test(arguments: starts)
    func startsAt(_ c: StartCase) {
        #expect(TailStart.decide(identity: c.identity, size: c.size, saved: c.saved.map { ($0, c.offset) }, known: c.known) == c.start)
    }
}

@Suite struct FilePathPatternTests {
    @Test(arguments: [
        ("/var/log/app.log", "/var/log", "app.log", false),
        ("/var/log/app/*.log", "/var/log/app", "*.log", true),
        ("/srv/a/[ab]?.txt", "/srv/a", "[ab]?.txt", true),
        ("/app.log", "/", "app.log", false),
    ])
    func splits(_ path: String, _ dir: String, _ name: String, _ glob: Bool) throws {
        let p = try #require(FilePathPattern(path))
        #expect(p.directory == dir)
        #expect(p.name == name)
        #expect(p.isGlob == glob)
        #expect(p.path == path)
    }

    @Test(arguments: ["app.log", "var/log/x", "/var/log/", "/var/*/app.log", "/var/log/../x", "/var/./x", "/var/log/..", ""])
    func refuses(_ path: String) {
        #expect(FilePathPattern(path) == nil)
    }

    @Test func globsMatchNamesNotDotFiles() throws {
        let p = try #require(FilePathPattern("/var/log/app/*.log"))
        #expect(p.matches(name: "web.log"))
        #expect(!p.matches(name: "web.log.1"))
        #expect(!p.matches(name: ".hidden.log"))
        let exact = try #require(FilePathPattern("/var/log/app.log"))
        #expect(exact.matches(name: "app.log"))
        #expect(!exact.matches(name: "app.log.1"))
    }
}
