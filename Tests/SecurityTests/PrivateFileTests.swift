// Kit's one reading of secret files: the mode check is made on the descriptor that is read, with the policy the
// caller names (channels refuse group or others, the HTTP endpoint's token and key only others).
import Testing
import Kit
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite struct PrivateFileTests {
    @Test(arguments: [
        (0o600, 0o077, true), (0o640, 0o077, false), (0o604, 0o077, false), (0o400, 0o077, true),
        (0o640, 0o007, true), (0o644, 0o007, false), (0o666, 0, true),
    ] as [(Int, Int, Bool)])
    func theModeDecides(mode: Int, refusing: Int, read: Bool) throws {
        let dir = makeTempDirectory("shd-private")
        defer { _ = runShell("rm -rf '\(dir)'") }
        writeText(dir + "/secret", "s3cret\n")
        #expect(chmod(dir + "/secret", mode_t(mode)) == 0)
        do {
            let bytes = try readPrivateFile(dir + "/secret", refusing: UInt32(refusing), limit: 1024)
            #expect(read, "mode \(String(mode, radix: 8)) refusing \(String(refusing, radix: 8)) was read")
            #expect(bytes == Array("s3cret\n".utf8))
        } catch {
            #expect(!read, "mode \(String(mode, radix: 8)): \(error)")
            guard case .exposed(let m) = error else { Issue.record("\(error)"); return }
            #expect(Int(m & 0o777) == mode && m & UInt32(S_IFMT) == UInt32(S_IFREG))
        }
    }

    @Test func aMissingFileIsUnreadableNamingTheCall() {
        #expect(throws: PrivateFileError.self) { try readPrivateFile("/nonexistent/shd-secret", refusing: 0o077, limit: 16) }
        do { _ = try readPrivateFile("/nonexistent/shd-secret", refusing: 0o077, limit: 16) } catch {
            guard case .unreadable(let e) = error else { Issue.record("\(error)"); return }
            #expect(e.operation == "open" && e.errno == ENOENT)
        }
    }
}
