// docs/ARCHITECTURE.md's module graph is Package.swift's: every target's dependencies, no more and no fewer;
// and every target imports exactly the package modules it declares.
import Kit
import Testing
import TestSupport

@Suite struct ArchitectureDocTests {
    /// `.target(name: "X", dependencies: ["A", "B"]` and `.executableTarget(…)` of Package.swift (test targets and
    /// TestSupport aside, unless `tests`).
    static func packageEdges(tests: Bool = false) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for line in readText(TestPaths.packageRoot + "/Package.swift").split(separator: "\n") {
            let l = line.drop { $0 == " " }
            guard l.hasPrefix(".target(name: \"") || l.hasPrefix(".executableTarget(name: \"")
                || (tests && l.hasPrefix(".testTarget(name: \"")) else { continue }
            let name = l.split(separator: "\"")[1]
            guard tests || name != "TestSupport" else { continue }
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

    /// The package modules the Swift files under `folder` (recursively) import (`import X`, `@testable import X`).
    static func imports(under folder: String, of modules: Set<String>) -> Set<String> {
        var out: Set<String> = []
        for name in listDirectory(folder) {
            let path = folder + "/" + name
            guard name.hasSuffix(".swift") else {
                out.formUnion(imports(under: path, of: modules))
                continue
            }
            for line in readText(path).split(separator: "\n") {
                let words = line.split(separator: " ")
                guard let i = words.firstIndex(of: "import"), i == 0 || (i == 1 && words[0] == "@testable"), i + 1 < words.count
                else { continue }
                let m = String(words[i + 1])
                if modules.contains(m) { out.insert(m) }
            }
        }
        return out
    }

    static func hasSwift(_ folder: String) -> Bool {
        listDirectory(folder).contains { $0.hasSuffix(".swift") || hasSwift(folder + "/" + $0) }
    }

    /// A module's folder: Sources/NAME or Tests/NAME.
    static func folder(of target: String) -> String? {
        for base in ["/Sources/", "/Tests/"] where !listDirectory(TestPaths.packageRoot + base + target).isEmpty {
            return TestPaths.packageRoot + base + target
        }
        return nil
    }

    @Test func everyTargetImportsExactlyWhatItDeclares() {
        let pkg = Self.packageEdges(tests: true)
        #expect(pkg.count >= 15, "\(pkg.keys.sorted())")
        let modules = Set(pkg.keys).union(pkg.values.flatMap { $0 })
        for (target, deps) in pkg {
            guard let dir = Self.folder(of: target) else {
                Issue.record("no folder for target \(target)")
                continue
            }
            let imported = Self.imports(under: dir, of: modules)
            #expect(imported.subtracting(deps).isEmpty,
                    "Package.swift: \(target) declares \(deps.sorted()), its files import \(imported.sorted())")
            // A C shim target (no Swift files) may be declared a step before its first Swift caller lands.
            let unused = deps.subtracting(imported).filter { d in Self.folder(of: d).map { Self.hasSwift($0) } ?? true }
            #expect(unused.isEmpty, "Package.swift: \(target) declares \(unused.sorted()), which none of its files imports")
        }
    }

    /// Notify (channels, spool, delivery) does not link the rule compiler: its closure of dependencies lacks Rules.
    @Test func notifyDoesNotReachRules() {
        let pkg = Self.packageEdges()
        var seen: Set<String> = [], todo = ["Notify"]
        while let t = todo.popLast() {
            for d in pkg[t] ?? [] where seen.insert(d).inserted { todo.append(d) }
        }
        #expect(seen.contains("Alerting"))
        #expect(!seen.contains("Rules"), "Notify reaches \(seen.sorted())")
    }
}
