// The libsystemd shim: it loads on a machine that has libsystemd0, and its calls fail cleanly (negative errno).
import CSystemd
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct CSystemdTests {
    static let hasLibsystemd: Bool = {
        guard let h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL) else { return false }
        dlclose(h)
        return true
    }()

    @Test(.enabled(if: hasLibsystemd, "libsystemd0 is not installed"))
    func busLoadsAndAnUnreachableAddressIsAnError() {
        var err = [CChar](repeating: 0, count: 256)
        #expect(shd_bus_load(&err, err.count) == 0)
        #expect(shd_bus_loaded() == 1)
        var bus: OpaquePointer?
        let r = shd_bus_open_address(&bus, "unix:path=/nonexistent/shd-test-bus")
        #expect(r < 0)
        #expect(bus == nil)
    }
}
