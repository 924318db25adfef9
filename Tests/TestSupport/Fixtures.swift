// Helpers shared by the test targets: the package root and fixture paths.
#if canImport(Glibc)
import Glibc
#endif

public enum TestPaths {
    /// The package root, found from this source file's path.
    public static let packageRoot: String = {
        var p = #filePath
        for _ in 0..<3 { p = String(p[..<(p.lastIndex(of: "/") ?? p.startIndex)]) }
        return p
    }()

    /// A fixture machine tree, e.g. `fixture("machine-a")` → Tests/WorkersTests/Fixtures/machine-a.
    public static func fixture(_ name: String) -> String { packageRoot + "/Tests/WorkersTests/Fixtures/" + name }
}
