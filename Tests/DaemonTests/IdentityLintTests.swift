// `identity-changes`: a rule without `by` on a function whose rows carry labels that change with what they report,
// against the real catalog (the workers' own declarations of their keys).
import Testing
import Reports
import Rules
import Workers

@Suite struct IdentityLintTests {
    static let cases: [(source: String, fix: String?)] = [
        ("rule r on network.interfaces { warn rate(rx_errors_total) > 1/s }", "interfaces by name"),
        ("rule r on network.interfaces by name { warn rate(rx_errors_total) > 1/s }", nil),
        ("rule r on systemd.units { crit active_state == \"failed\" }", "units by unit"),
        ("rule r on files.watched { warn not exists }", "watched by watch, path"),
        ("rule r on hardware.raid { crit degraded }", "raid by array"),
        ("rule r on probes.certificates { warn days_left < 14 }", "certificates by probe, path"),
        // Functions whose labels all tell rows apart, and event rules (their labels are their captures).
        ("rule r on memory.usage { warn available_percent < 5 }", nil),
        ("rule r on disk.filesystems { warn used_percent > 90 }", nil),
        ("rule r on journal where message =~ /oops/ { warn count(1m) >= 1 }", nil),
    ]

    @Test(arguments: cases)
    func aRuleWithoutByOnAKeyedFunctionIsWarned(_ source: String, _ fix: String?) throws {
        let r = RuleSetLoader.load(sources: [("t.rules", source)], catalog: WorkerRegistry.catalog)
        #expect(r.configuration != nil, "a warning, not an error: \(r.diagnostics.map(\.message))")
        let d = r.diagnostics.first { $0.id == "identity-changes" }
        #expect(d?.fixIt?.replacement == fix, "\(r.diagnostics.map(\.message))")
        if let d {
            #expect(d.severity == .warning && d.location.line == 1)
            #expect(d.message.contains("has no `by`") && d.message.contains("`by \(fix!.split(separator: " ", maxSplits: 2)[2])`"), "\(d.message)")
        }
    }

    @Test func theMessageNamesTheLabelsThatChange() throws {
        let r = RuleSetLoader.load(sources: [("t.rules", "rule nic on network.interfaces { warn rate(rx_errors_total) > 1/s }")],
                                   catalog: WorkerRegistry.catalog)
        let d = try #require(r.diagnostics.first { $0.id == "identity-changes" })
        #expect(d.message == "rule `nic` has no `by`: its alerts are told apart by every label of network.interfaces, and `operstate` "
            + "changes with what it reports (a change would end the alert and start another); `by name` keeps one alert per name")
        #expect(d.location.line == 1 && d.location.column == 21, "the function's name")
    }

    /// Every key a function declares names label fields of it.
    @Test func keysAreLabelsOfTheirFunctions() {
        for w in WorkerRegistry.catalog.workers {
            for f in w.functions where !f.key.isEmpty {
                let labels = Set(f.fields.filter { $0.kind == .label }.map(\.name))
                #expect(Set(f.key).isSubset(of: labels), "\(w.name).\(f.name): key \(f.key), labels \(labels.sorted())")
                #expect(labels.count > f.key.count, "\(w.name).\(f.name): a key of every label is no key")
            }
        }
    }
}
