// The last configuration that checked clean, kept in STATE_DIR so a start with broken files keeps monitoring.
import Kit
import Reports
import Rules
import Workers

/// `STATE_DIR/config.last-good.json`: the texts of shd.conf and the rules files as last loaded clean. A restart
/// (`systemctl restart`, a package upgrade, a reboot) while an edit is broken starts with these, as a reload
/// would keep them, and fires `shd_config_invalid` until the files check again: a broken edit never takes
/// monitoring down.
struct LastGoodConfiguration {
    var savedAt: String
    /// (file name, contents) in load order.
    var files: [(String, String)]

    static func path(stateDir: String) -> String { stateDir + "/config.last-good.json" }

    init(savedAt: String, files: [(String, String)]) {
        self.savedAt = savedAt
        self.files = files
    }

    /// The files of a clean load, in the order they were read.
    init(_ config: Configuration, sources: [String: String]) {
        savedAt = Timestamp.now().rfc3339
        files = config.files.compactMap { f in sources[f].map { (f, $0) } }
    }

    var json: JSONValue {
        var o = JSONObject()
        o.append("version", 1)
        o.append("saved_at", .string(savedAt))
        o.append("files", .array(files.map { .object(["path": .string($0.0), "text": .string($0.1)]) }))
        return .object(o)
    }

    /// nil when there is none; throws a message when it is unreadable or malformed.
    static func read(stateDir: String) throws(ReportDecodingError) -> LastGoodConfiguration? {
        let bytes: [UInt8]
        do { bytes = try readOnce(path(stateDir: stateDir), cap: 64 << 20) } catch {
            if error.isMissing { return nil }
            throw ReportDecodingError("\(error)")
        }
        let v: JSONValue
        do { v = try JSONValue.parse(bytes: bytes) } catch { throw ReportDecodingError("\(error)") }
        guard v["version"]?.number == 1, let list = v["files"]?.array else { throw ReportDecodingError("not a saved configuration") }
        var files: [(String, String)] = []
        for f in list {
            guard let p = f["path"]?.string, let t = f["text"]?.string else { throw ReportDecodingError("a file without path or text") }
            files.append((p, t))
        }
        return LastGoodConfiguration(savedAt: v["saved_at"]?.string ?? "?", files: files)
    }

    func save(stateDir: String) throws(FileError) {
        try AtomicFile.write(LastGoodConfiguration.path(stateDir: stateDir), Array((json.encoded() + "\n").utf8), mode: 0o640)
    }

    /// Checks the saved texts again with this version's checker (an upgrade may refuse what an older one accepted).
    func load() -> LoadResult { RuleSetLoader.load(sources: files, catalog: WorkerRegistry.catalog) }
}
