// What probe tests aim at: a test CA made with the openssl command and certificates it signs (any validity, even
// already expired), and a TCP port whose connects hang (its accept queue is full).
import Kit
#if canImport(Glibc)
import Glibc
#endif

/// A certificate authority made in `folder` with `openssl req -x509`, which signs leaf certificates.
public final class TestCA {
    public let folder: String
    public let cert: String
    let key: String

    public init?(folder: String) {
        self.folder = folder
        cert = folder + "/ca.pem"
        key = folder + "/ca.key"
        guard TestCA.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30",
                              "-subj", "/CN=shd test CA"], log: folder + "/ca.log") else { return nil }
    }

    /// A leaf for `names` (DNS:… or IP:…), valid for `days` from now (`-1`: it expired a day ago), signed by this CA.
    /// Returns the certificate and key paths (`NAME.pem`, `NAME.key`).
    public func issue(_ name: String, days: Int, san: String = "DNS:localhost,IP:127.0.0.1", cn: String = "localhost") -> (cert: String, key: String)? {
        let base = folder + "/" + name
        writeText(base + ".ext", "subjectAltName=\(san)\n")
        guard TestCA.openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(cn)"],
                             log: base + ".log"),
              TestCA.openssl(["x509", "-req", "-in", base + ".csr", "-CA", cert, "-CAkey", key, "-CAcreateserial",
                              "-days", String(days), "-extfile", base + ".ext", "-out", base + ".pem"], log: base + ".log")
        else { return nil }
        return (base + ".pem", base + ".key")
    }

    static func openssl(_ args: [String], log: String) -> Bool {
        guard let p = TestChildProcess(argv: ["/usr/bin/openssl"] + args, logPath: log) else { return false }
        return p.wait() == 0
    }
}

/// The port a test server writes (by rename) into `path` once it listens; nil after 10 s without one.
func waitForPortFile(_ path: String) -> UInt16? {
    for _ in 0..<1000 {
        if let port = UInt16(SMTPReceiver.readText(path) ?? ""), port != 0 { return port }
        usleep(10_000)
    }
    return nil
}

/// A 127.0.0.1 port that listens with a backlog of 0 and never accepts; its queue is filled at start, so a new
/// connect's SYN is dropped and the connect hangs until the client's timeout.
public final class HangingTCPPort: @unchecked Sendable {
    public let port: UInt16
    private let process: TestChildProcess

    public init?(folder: String) {
        let portFile = folder + "/hang-port"
        guard let p = TestChildProcess(argv: ["/usr/bin/python3", "-c", HangingTCPPort.script, portFile], logPath: folder + "/hang.log")
        else { return nil }
        process = p
        guard let port = waitForPortFile(portFile) else { p.stop(); return nil }
        self.port = port
    }

    public func stop() { process.stop() }
    deinit { stop() }

    static let script = #"""
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
fill = []
for _ in range(4):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(s.getsockname())
    except BlockingIOError:
        pass
    fill.append(c)
time.sleep(0.3)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(3600)
"""#
}
