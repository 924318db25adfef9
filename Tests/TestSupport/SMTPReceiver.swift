// A real SMTP receiver for tests: Debian's python3-aiosmtpd, run as a child process on 127.0.0.1.
import Kit
#if canImport(Glibc)
import Glibc
#endif
import Reports

/// An SMTP server (aiosmtpd) on an ephemeral 127.0.0.1 port that saves each message to a folder.
///
/// The Python source is kept here as a string and run with `python3 -c`, so the test targets hold no
/// unhandled resource files. Needs the Debian package python3-aiosmtpd (for /usr/bin/python3).
public final class SMTPReceiver: @unchecked Sendable {
    public let port: UInt16
    public let folder: String
    private let process: TestChildProcess

    /// One received message: the envelope and the raw RFC 5322 text.
    public struct Message: Sendable {
        public var mailFrom: String
        public var recipients: [String]
        public var raw: String
    }

    /// Why the receiver is not available (the test is skipped with this reason).
    public static var unavailableReason: String? {
        access("/usr/bin/python3", X_OK) == 0 && access("/usr/lib/python3/dist-packages/aiosmtpd", F_OK) == 0
            ? nil : "python3-aiosmtpd is not installed (apt-get install -y python3-aiosmtpd)"
    }

    /// Starts the receiver and waits (up to 10 s) until it listens. `folder` must exist. With `certificate`
    /// (cert and key paths) it requires STARTTLS; with `login` (user and password) it requires AUTH.
    /// With `refuse`, every recipient whose address starts with "refused" gets the reply
    /// `550 5.1.1 <address>: ` + `refuse` (a permanent refusal in the server's own words).
    public init?(folder: String, certificate: (cert: String, key: String)? = nil, login: (user: String, password: String)? = nil,
                 refuse: String? = nil) {
        let portFile = folder + "/port"
        var args = ["/usr/bin/python3", "-c", SMTPReceiver.script, folder, portFile]
        if let r = refuse { args += ["--refuse", r] }
        if let c = certificate { args += ["--cert", c.cert, "--key", c.key] }
        if let l = login { args += ["--user", l.user, "--password", l.password] }
        guard let p = TestChildProcess(argv: args,
                                       logPath: folder + "/receiver.log") else { return nil }
        process = p
        self.folder = folder
        var port: UInt16 = 0
        for _ in 0..<1000 {
            if let f = fopen(portFile, "r") {
                var buf = [UInt8](repeating: 0, count: 16)
                let n = fread(&buf, 1, 15, f)
                port = UInt16(String(decoding: buf[0..<max(0, n)], as: UTF8.self)) ?? 0
                fclose(f)
                if port != 0 { break }
            }
            usleep(10_000)
        }
        guard port != 0 else { p.stop(); return nil }
        self.port = port
    }

    public func stop() { process.stop() }
    deinit { stop() }

    /// Lines of the AUTH log ("PLAIN shd ok").
    public var authLog: [String] { (SMTPReceiver.readText(folder + "/auth") ?? "").split(separator: "\n").map(String.init) }

    /// Messages received so far, in order.
    public var messages: [Message] {
        var out: [Message] = []
        var n = 1
        while let raw = SMTPReceiver.readText(folder + "/\(n).eml"), let env = SMTPReceiver.readText(folder + "/\(n).env") {
            let lines = env.split(separator: "\n").map(String.init)
            out.append(Message(mailFrom: lines.first ?? "", recipients: Array(lines.dropFirst()), raw: raw))
            n += 1
        }
        return out
    }

    /// What Python's `email` package (policy `default`) makes of a raw message: the decoded Subject, From and To,
    /// the text/plain part's decoded text (line breaks as "\n"), each attachment's decoded content by file name, the parser's defects,
    /// the longest line in octets and whether any octet is 8-bit.
    public struct Parsed: Sendable {
        public var subject: String
        public var from: String
        public var to: String
        public var text: String?
        public var textEncoding: String?
        public var attachments: [String: String]
        public var defects: [String]
        public var longestLine: Int
        public var eightBit: Bool
    }

    /// Parses `raw` with python3's `email` package; nil (with the reason in `error`) if python3 fails.
    public static func parse(_ raw: String, folder: String) -> (Parsed?, error: String) {
        let path = folder + "/parse-\(UInt32.random(in: 0...UInt32.max)).eml"
        writeText(path, raw)
        guard let p = try? ChildProcess(["/usr/bin/python3", "-c", parseScript, path], outputDirectory: folder),
              p.wait(timeout: 30) == 0
        else { return (nil, "python3 email parse failed") }
        guard let v = try? JSONValue.parse(bytes: Array(p.stdout.utf8)) else { return (nil, "unparsable output: \(p.stdout) \(p.stderr)") }
        var attachments: [String: String] = [:]
        if case .object(let o)? = v["attachments"] { for (k, a) in o { attachments[k] = a.string } }
        let parsed = Parsed(subject: v["subject"]?.string ?? "", from: v["from"]?.string ?? "", to: v["to"]?.string ?? "",
                            text: v["text"]?.string, textEncoding: v["text_encoding"]?.string, attachments: attachments,
                            defects: v["defects"]?.array?.compactMap(\.string) ?? [],
                            longestLine: Int(v["longest_line"]?.number ?? 0), eightBit: v["eight_bit"]?.bool ?? true)
        return (parsed, "")
    }

    static let parseScript = #"""
import email, email.policy, json, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.default)
out = {"subject": str(m["subject"]), "from": str(m["from"]), "to": str(m["to"]), "text": None, "text_encoding": None,
       "attachments": {}, "defects": [repr(d) for d in m.defects],
       "longest_line": max(len(l) for l in raw.split(b"\r\n")), "eight_bit": any(b > 127 for b in raw)}
for part in m.walk():
    out["defects"] += [repr(d) for d in part.defects]
    if part.is_multipart():
        continue
    if part.get_content_disposition() == "attachment":
        out["attachments"][part.get_filename()] = part.get_payload(decode=True).decode("utf-8")
    elif part.get_content_type() == "text/plain":
        out["text"] = part.get_content().replace("\r\n", "\n")  # the text, with its line breaks as "\n"
        out["text_encoding"] = str(part["content-transfer-encoding"])
print(json.dumps(out))
"""#

    static func readText(_ path: String) -> String? {
        (try? readWholeFile(path, limit: .max)).map { String(decoding: $0, as: UTF8.self) }
    }

    static let script = #"""
#!/usr/bin/python3
# A real SMTP server for tests (Debian's python3-aiosmtpd): listens on 127.0.0.1, an ephemeral port,
# writes the port to PORTFILE once listening, and saves each message as OUTDIR/N.eml plus OUTDIR/N.env
# (envelope: "MAIL FROM" on the first line, one recipient per following line). Stopped by SIGTERM to its pid.
# With --cert/--key it offers STARTTLS and requires it; with --user/--password it requires AUTH
# (LOGIN or PLAIN) and appends "MECHANISM LOGIN ok|refused" to OUTDIR/auth.
# With --refuse TEXT, a recipient starting with "refused" gets "550 5.1.1 <addr>: TEXT".
# Usage: smtp_receiver.py OUTDIR PORTFILE [--cert C --key K] [--user U --password P] [--refuse TEXT]
import asyncio
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Saver:
    def __init__(self, folder, refuse):
        self.folder = folder
        self.refuse = refuse
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.folder, str(self.count))
        with open(base + ".env.tmp", "w") as f:
            f.write(envelope.mail_from + "\n" + "\n".join(envelope.rcpt_tos) + "\n")
        os.rename(base + ".env.tmp", base + ".env")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode()
        with open(base + ".eml.tmp", "wb") as f:
            f.write(data)
        # The .eml appears last and atomically: a test that sees it can read both files.
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse and address.startswith("refused"):
            return "550 5.1.1 <%s>: %s" % (address, self.refuse)
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def main():
    import argparse
    import ssl
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("portfile")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--refuse")
    a = p.parse_args()
    kwargs = {}
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        kwargs.update(tls_context=ctx, require_starttls=True)
    if a.user:
        from aiosmtpd.smtp import AuthResult

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == a.user and auth_data.password.decode() == a.password
            with open(os.path.join(a.folder, "auth"), "a") as f:
                f.write("%s %s %s\n" % (mechanism, auth_data.login.decode(), "ok" if ok else "refused"))
            return AuthResult(success=ok)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(a.cert))
    loop = asyncio.get_running_loop()
    handler = Saver(a.folder, a.refuse)
    server = await loop.create_server(lambda: SMTP(handler, hostname="shd-test", **kwargs), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(a.portfile + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(a.portfile + ".tmp", a.portfile)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
"""#
}
