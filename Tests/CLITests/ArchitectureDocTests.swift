// docs/ARCHITECTURE.md's module graph is Package.swift's: every target's dependencies, no more and no fewer.
import Testing
import TestSupport

@Suite struct ArchitectureDocTests {
    /// `.target(name: "X", dependencies: ["A", "B"]` and `.executableTarget(…)` of Package.swift (test targets aside).
    static func packageEdges() -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for line in readText(TestPaths.packageRoot + "/Package.swift").split(separator: "\n") {
            let l = line.drop { $0 == " " }
            guard l.hasPrefix(".target(name: \"") || l.hasPrefix(".executableTarget(name: \"") else { continue }
            let name = l.split(separator: "\"")[1]
            guard name != "TestSupport" else { continue }
            var deps: Set<String> = []
            if let open = l.firstIndex(of: "["), let close = l.firstIndex(of: "]") {
                for d in l[l.index(after: open)..<close].split(separator: ",") {
                    deps.insert(String(d.filter { $0 != "\"" && $0 != " " }))
                }
            }
            out[String(name)] = deps
        }
        return out
    }

    /// The `X ─► A, B` lines of the graph block.
    static func documentedEdges() -> [String: Set<String>] {
        let doc = readText(TestPaths.packageRoot + "/docs/ARCHITECTURE.md")
        var out: [String: Set<String>] = [:]
        for line in doc.split(separator: "\n") where line.contains(" ─► ") && !line.hasPrefix("-") {
            let parts = line.split(separator: "─►", maxSplits: 1)
            let name = String(parts[0].filter { $0 != " " })
            let deps = parts[1].split(separator: ",").map { String($0.filter { $0 != " " }) }.filter { $0 != "(nothing)" }
            out[name] = Set(deps)
        }
        return out
    }

    @Test func moduleGraphIsPackageSwift() {
        let pkg = Self.packageEdges(), doc = Self.documentedEdges()
        #expect(pkg.count >= 8, "\(pkg)")
        for (target, deps) in pkg where !deps.isEmpty || doc[target] != nil {
            #expect(doc[target] == deps, "ARCHITECTURE.md: \(target) ─► \(deps.sorted().joined(separator: ", ")) (it says \(doc[target]?.sorted() ?? []))")
        }
        for target in doc.keys { #expect(pkg[target] != nil, "ARCHITECTURE.md names \(target), which Package.swift lacks") }
    }
}
