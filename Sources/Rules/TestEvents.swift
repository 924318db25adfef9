// Event samples in rule tests: `journal { message "…" priority 3 }`, `journal file "x.export"` (journalctl -o export),
// `kmsg "6,12,345,-;message"` and `kmsg file "x.kmsg"` (/dev/kmsg records), `file "/var/log/app.log" "a line" …` and
// `file "/var/log/app.log" from "x.log"` (lines of a text file), each at a test time.
import Alerting
import Reports

/// An entry of a test step, `offset` seconds after the step's time (recorded files keep their own spacing).
struct TestEntry {
    var offset: Double
    var source: String
    /// The source's argument (the file a `file` entry was read from).
    var argument: String? = nil
    var fields: Row
}

extension RuleTestParser {
    /// Whether the samples at the current token are events (`journal …`, `kmsg …`) rather than `worker.function` rows.
    var atEventSample: Bool {
        tok.kind == .ident && (tok.text == "kmsg" || EventSources.named(tok.text) != nil)
            && !tokens[min(p + 1, tokens.count - 1)].isPunct(".")
    }

    /// One event sample; its entries are appended to `entries`.
    mutating func parseEventSample(into entries: inout [TestEntry]) throws(ParseAbort) {
        let kw = advance()
        if kw.text == "file" {
            try parseFileSample(into: &entries)
            return
        }
        if tok.isWord("file") {
            _ = advance()
            guard tok.kind == .string else { throw fail("expected a file path after `\(kw.text) file`", tok) }
            let pathTok = advance()
            let path = RuleTestRunner.resolve(pathTok.text, relativeTo: file)
            guard let bytes = RuleTestRunner.readFile(path) else { throw fail("cannot read \(path)", pathTok) }
            if kw.text == "kmsg" {
                let (records, bad) = KmsgRecord.parseAll(bytes)
                if let l = bad.first { throw fail("\(path):\(l): not a /dev/kmsg record (PRI,SEQ,TS,FLAGS;MESSAGE)", pathTok) }
                let t0 = records.first?.timestampMicros ?? 0
                for r in records {
                    let off = Double(r.timestampMicros >= t0 ? r.timestampMicros - t0 : 0) / 1e6
                    entries.append(TestEntry(offset: off, source: "journal", fields: r.entry(at: Timestamp(microseconds: 0)).fields))
                }
            } else {
                let parsed: [JournalExport.Entry]
                do throws(JournalExport.ParseError) { parsed = try JournalExport.parse(bytes) } catch {
                    throw fail("\(path):\(error.line): \(error.message)", pathTok)
                }
                let t0 = parsed.compactMap(\.realtime).first ?? 0
                for e in parsed {
                    let off = Double(max(0, (e.realtime ?? t0) - t0)) / 1e6
                    entries.append(TestEntry(offset: off, source: kw.text, fields: EventSources.journalEntry(e.fields, time: Timestamp(microseconds: 0)).fields))
                }
            }
            return
        }
        if kw.text == "kmsg" {
            guard tok.kind == .string else { throw fail("expected a /dev/kmsg record string (\"6,12,345,-;message\") or `file \"path\"` after `kmsg`", tok) }
            while tok.kind == .string {
                let t = advance()
                let (records, bad) = KmsgRecord.parseAll(Array(t.text.utf8))
                if !bad.isEmpty || records.isEmpty { throw fail("not a /dev/kmsg record: expected PRI,SEQ,TS,FLAGS;MESSAGE", t) }
                for r in records { entries.append(TestEntry(offset: 0, source: "journal", fields: r.entry(at: Timestamp(microseconds: 0)).fields)) }
            }
            return
        }
        let schema = EventSources.named(kw.text)!.schema
        if tok.isPunct("[") {
            _ = advance()
            while !tok.isPunct("]") {
                if tok.kind == .eof { throw fail("expected `]`", tok) }
                var st: [String: Double] = [:]
                entries.append(TestEntry(offset: 0, source: kw.text, fields: try parseRow(steps: &st, schema: schema)))
                if tok.isPunct(",") { _ = advance() }
            }
            _ = advance()
        } else {
            var st: [String: Double] = [:]
            entries.append(TestEntry(offset: 0, source: kw.text, fields: try parseRow(steps: &st, schema: schema)))
        }
    }
}

extension RuleTestParser {
    /// `file "PATH" "line" …` or `file "PATH" from "sample.log"`: lines of the file at PATH, split as the daemon splits
    /// what it reads (``LineSplitter``; a last line without its newline counts too).
    mutating func parseFileSample(into entries: inout [TestEntry]) throws(ParseAbort) {
        guard tok.kind == .string else { throw fail("expected the file's path after `file` (`file \"/var/log/app.log\" \"a line\"`)", tok) }
        let pathTok = advance()
        guard FilePathPattern(pathTok.text) != nil, !pathTok.text.contains(where: { "*?[".contains($0) }) else {
            throw fail("expected an absolute file path without wildcards (the file the lines were read from)", pathTok)
        }
        let path = pathTok.text
        var lines: [String] = []
        if tok.isWord("from") {
            _ = advance()
            guard tok.kind == .string else { throw fail("expected a sample file after `from`", tok) }
            let sampleTok = advance()
            let sample = RuleTestRunner.resolve(sampleTok.text, relativeTo: file)
            guard let bytes = RuleTestRunner.readFile(sample) else { throw fail("cannot read \(sample)", sampleTok) }
            var splitter = LineSplitter()
            lines = splitter.feed(bytes)
            if let last = splitter.finish() { lines.append(last) }
        } else {
            guard tok.kind == .string else { throw fail("expected the lines (strings) or `from \"sample.log\"` after `file \"\(path)\"`", tok) }
            while tok.kind == .string { lines.append(advance().text) }
        }
        for l in lines {
            entries.append(TestEntry(offset: 0, source: "file", argument: path, fields: EventSources.fileEntry(line: l, path: path, time: Timestamp(microseconds: 0)).fields))
        }
    }
}
