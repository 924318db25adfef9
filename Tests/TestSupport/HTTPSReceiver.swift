// A TLS-terminating HTTP receiver for tests (Python's http.server + ssl), and a self-signed certificate maker.
#if canImport(Glibc)
import Glibc
#endif

/// A self-signed certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1), made with the openssl command.
public enum TestCertificate {
    public static var unavailableReason: String? {
        access("/usr/bin/openssl", X_OK) == 0 && access("/usr/bin/python3", X_OK) == 0 ? nil : "openssl or python3 is missing"
    }

    /// Writes `cert.pem` and `key.pem` into `folder`; returns their paths.
    public static func make(in folder: String) -> (cert: String, key: String)? {
        let cert = folder + "/cert.pem", key = folder + "/key.pem"
        guard let p = TestChildProcess(argv: ["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                              "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                                              "-addext", "subjectAltName=IP:127.0.0.1"],
                                       logPath: folder + "/openssl.log"),
              p.wait() == 0
        else { return nil }
        return (cert, key)
    }
}

/// An HTTPS server on an ephemeral 127.0.0.1 port answering 200 to every POST and saving each body as N.body.
public final class HTTPSReceiver: @unchecked Sendable {
    public let port: UInt16
    public let folder: String
    private let process: TestChildProcess

    public init?(folder: String, cert: String, key: String) {
        let portFile = folder + "/https-port"
        guard let p = TestChildProcess(argv: ["/usr/bin/python3", "-c", HTTPSReceiver.script, folder, portFile, cert, key],
                                       logPath: folder + "/https.log") else { return nil }
        process = p
        self.folder = folder
        guard let port = waitForPortFile(portFile) else { p.stop(); return nil }
        self.port = port
    }

    public func stop() { process.stop() }
    deinit { stop() }

    /// Bodies received so far, in order.
    public var bodies: [String] {
        var out: [String] = []
        while let b = SMTPReceiver.readText(folder + "/\(out.count + 1).body") { out.append(b) }
        return out
    }

    static let script = #"""
import http.server, os, ssl, sys
folder, portfile, cert, key = sys.argv[1:5]
count = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        count[0] += 1
        path = os.path.join(folder, "%d.body" % count[0])
        with open(path + ".tmp", "wb") as f:
            f.write(body)
        os.rename(path + ".tmp", path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def do_GET(self):
        # Probes (Tests/DaemonTests/ProbeDaemonTests): a page to match.
        self.send_response(200)
        self.send_header("Content-Length", "13")
        self.end_headers()
        self.wfile.write(b"shd probe ok\n")
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
"""#
}
