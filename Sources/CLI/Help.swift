// `--help` text, rendered from the command table.

extension CommandSpec {
    /// The `--help` text of the command at `path` below this (root) command.
    public func helpText(_ path: [String]) -> String {
        guard let c = find(path) else { return helpText([]) }
        if path.isEmpty { return rootHelp() }
        let name = (["shd"] + path).joined(separator: " ")
        var out = "Usage: \(name)" + (c.synopsis.isEmpty ? "" : " " + c.synopsis) + "\n"
        if !c.discussion.isEmpty { out += "\n" + c.discussion + "\n" }
        if !c.subcommands.isEmpty {
            out += "\n" + Self.columns(c.subcommands.map { ($0.name + ($0.synopsis.isEmpty ? "" : " " + $0.synopsis), $0.abstract) })
        }
        out += "\n" + Self.columns(c.allOptions.map { ($0.label, $0.help) })
        if !c.footer.isEmpty { out += "\n" + c.footer + "\n" }
        return out + "\n"
    }

    /// `shd --help`: the discussion, then one line per command down to the leaves, then the footer.
    private func rootHelp() -> String {
        var rows: [(String, String)] = []
        func walk(_ c: CommandSpec, _ prefix: String) {
            for s in c.subcommands where s.listed {
                let shown = prefix + (s.shownAs ?? s.name)
                if s.subcommands.isEmpty || s.run != nil {
                    rows.append((shown + (s.synopsis.isEmpty ? "" : " " + s.synopsis), s.abstract))
                }
                walk(s, shown + " ")
            }
        }
        walk(self, "shd ")
        var out = discussion + "\n\nUsage:\n" + Self.columns(rows, minimumWidth: 34)
        if !synopsis.isEmpty { out += "  shd " + synopsis + "\n" }
        if !footer.isEmpty { out += "\n" + footer + "\n" }
        return out + "\n"
    }

    /// Two columns: labels indented by two, texts aligned after the longest label (further lines of a text under
    /// its first).
    static func columns(_ rows: [(String, String)], minimumWidth: Int = 0) -> String {
        let width = max(minimumWidth, (rows.map(\.0.count).max() ?? 0) + 2)
        var out = ""
        for (label, text) in rows {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            out += "  " + label + String(repeating: " ", count: width - label.count) + (lines.first.map(String.init) ?? "") + "\n"
            for l in lines.dropFirst() { out += String(repeating: " ", count: width + 2) + l + "\n" }
        }
        return out
    }
}
