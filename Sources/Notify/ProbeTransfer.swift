// Probes over libcurl: a connect, a TLS handshake (STARTTLS where the scheme has it) or an HTTP request, on the same
// multi-socket machinery (`CurlMulti`) and event loop as the channels' deliveries.
import Alerting
import CCurl

/// What one probe run asks of libcurl. Sources/Probes builds it from a `probe` declaration.
public struct ProbeRequest: Sendable {
    public enum Mode: Sendable {
        /// TCP connect only (CURLOPT_CONNECT_ONLY on an http:// URL: nothing is sent).
        case connect
        /// Connect and TLS handshake only (STARTTLS first for smtp://, imap://, pop3://); the certificates are kept.
        case handshake
        /// A whole HTTP(S) request.
        case http
    }
    public var mode: Mode
    public var url: String
    /// Connect to this Unix socket instead of the URL's host.
    public var unixSocket: String?
    public var method = "GET"
    /// "Name: value" lines.
    public var headers: [String] = []
    public var body: [UInt8]?
    public var timeout: Double
    /// Body bytes read at most; the transfer stops there.
    public var maxBody = 65536
    public var followRedirects = false
    public var maxRedirects = 5
    /// Verify the server's chain and name (libcurl's own verification); off for `handshake`, whose caller verifies.
    public var verifyTLS = true
    public var caFile: String?
    public var clientCert: String?
    public var clientKey: String?

    public init(mode: Mode, url: String, timeout: Double) {
        self.mode = mode
        self.url = url
        self.timeout = timeout
    }
}

/// How one probe run ended.
public struct ProbeAnswer: Sendable {
    /// 0: the connect, handshake or exchange completed (a stop at `maxBody` counts as completed).
    public var curlCode: Int
    /// libcurl's error text, as libcurl wrote it (the caller removes secrets).
    public var error: String
    public var status: Int
    /// The first `maxBody` bytes of the body.
    public var body: [UInt8]
    public var totalSeconds: Double
    public var connectSeconds: Double
    public var redirects: Int
    /// The server's certificates, leaf first, as PEM (handshake mode).
    public var certificates: [String]
    public var completed: Bool { curlCode == 0 }

    public init(curlCode: Int, error: String, status: Int, body: [UInt8], totalSeconds: Double, connectSeconds: Double,
                redirects: Int, certificates: [String]) {
        self.curlCode = curlCode
        self.error = error
        self.status = status
        self.body = body
        self.totalSeconds = totalSeconds
        self.connectSeconds = connectSeconds
        self.redirects = redirects
        self.certificates = certificates
    }
}

/// Runs probe requests on an `EventHost` through libcurl's multi-socket API.
public final class ProbeClient {
    private let multi: CurlMulti

    /// nil when libcurl is not loaded (`CurlLibrary.load()`) or gives no multi handle.
    public init?(host: EventHost) {
        guard let m = CurlMulti(host: host) else { return nil }
        multi = m
    }

    public var activeCount: Int { multi.activeCount }

    /// Starts `request`; `completion` runs on the loop when it ends (on the next turn when curl refuses it).
    public func start(_ request: ProbeRequest, completion: @escaping (ProbeAnswer) -> Void) {
        var t = TransferRequest(url: request.url)
        t.timeout = request.timeout
        t.probe = request
        multi.start(t) { r in
            // A stop at max_body is the probe's own choice, not a failure.
            let code = r.truncated && r.curlCode == Int(CURLE_WRITE_ERROR.rawValue) ? 0 : r.curlCode
            completion(ProbeAnswer(curlCode: code, error: code == 0 ? "" : r.error, status: r.status, body: r.body,
                                   totalSeconds: r.totalSeconds, connectSeconds: r.connectSeconds, redirects: r.redirects,
                                   certificates: r.certificates))
        }
    }

    /// Aborts every running probe without calling completions.
    public func cancelAll() { multi.cancelAll() }
}

extension Transfer {
    func configureProbe(_ p: ProbeRequest, _ check: (CURLcode) -> Void) {
        let ms = max(1, Int(p.timeout * 1000))
        check(shd_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, ms))
        check(shd_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, ms))
        // Probes reach what the configuration names: no proxy from the environment.
        check(shd_easy_setopt_string(easy, CURLOPT_PROXY, ""))
        if let u = p.unixSocket { check(shd_easy_setopt_string(easy, CURLOPT_UNIX_SOCKET_PATH, u)) }
        let verify = p.verifyTLS && p.mode != .handshake
        check(shd_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, verify ? 1 : 0))
        check(shd_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, verify ? 2 : 0))
        if let ca = p.caFile { check(shd_easy_setopt_string(easy, CURLOPT_CAINFO, ca)) }
        if let c = p.clientCert { check(shd_easy_setopt_string(easy, CURLOPT_SSLCERT, c)) }
        if let k = p.clientKey { check(shd_easy_setopt_string(easy, CURLOPT_SSLKEY, k)) }
        switch p.mode {
        case .connect:
            check(shd_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http"))
            check(shd_easy_setopt_long(easy, CURLOPT_CONNECT_ONLY, 1))
        case .handshake:
            check(shd_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "https,smtps,imaps,pop3s,ldaps,ftps,smtp,imap,pop3"))
            check(shd_easy_setopt_long(easy, CURLOPT_CONNECT_ONLY, 1))
            check(shd_easy_setopt_long(easy, CURLOPT_CERTINFO, 1))
            // smtp://, imap://, pop3://: STARTTLS, and fail rather than go on in clear.
            check(shd_easy_setopt_long(easy, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)))
        case .http:
            check(shd_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
            check(shd_easy_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"))
            check(shd_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, p.followRedirects ? 1 : 0))
            check(shd_easy_setopt_long(easy, CURLOPT_MAXREDIRS, p.maxRedirects))
            if p.method == "HEAD" {
                check(shd_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
            } else if p.method != "GET" {
                check(shd_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, p.method))
            }
            if let body = p.body, p.method != "GET", p.method != "HEAD" {
                check(shd_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
                check(body.withUnsafeBufferPointer { buf in
                    buf.withMemoryRebound(to: CChar.self) {
                        shd_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress))
                    }
                })
            }
            check(shd_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, slist(p.headers + ["Expect:"])))
        }
    }

    func probeResult(_ r: inout TransferResult) {
        r.received = received
        r.truncated = truncated
        var t: curl_off_t = 0
        if shd_easy_getinfo_off(easy, CURLINFO_TOTAL_TIME_T, &t) == CURLE_OK { r.totalSeconds = Double(t) / 1e6 }
        if shd_easy_getinfo_off(easy, CURLINFO_CONNECT_TIME_T, &t) == CURLE_OK { r.connectSeconds = Double(t) / 1e6 }
        var n = 0
        if shd_easy_getinfo_long(easy, CURLINFO_REDIRECT_COUNT, &n) == CURLE_OK { r.redirects = n }
        guard request.probe?.mode == .handshake else { return }
        var raw: UnsafeMutableRawPointer?
        guard shd_easy_getinfo_pointer(easy, CURLINFO_CERTINFO, &raw) == CURLE_OK, let raw else { return }
        let info = raw.assumingMemoryBound(to: curl_certinfo.self).pointee
        guard info.num_of_certs > 0, let lists = info.certinfo else { return }
        for i in 0..<Int(min(info.num_of_certs, 16)) {
            var item = lists[i]
            while let node = item {
                if let d = node.pointee.data {
                    let line = String(cString: d)
                    if line.hasPrefix("Cert:") { r.certificates.append(String(line.dropFirst(5))) }
                }
                item = node.pointee.next
            }
        }
    }
}

/// The secret handling channels use, for probes: `file "…"` values and the parts of a URL that may carry a token.
public enum ProbeSecrets {
    /// Reads a secret file, refusing one that group or others may access (the error names the file).
    public static func read(_ path: String, at location: SourceLocation?) throws(NotifyError) -> String {
        try ChannelConfig.readSecret(path, at: location)
    }

    /// The path, query and token-like pieces of `url`, and its user and password.
    public static func tokens(ofURL url: String) -> [String] {
        var out = ChannelConfig.tokensOf(url)
        var rest = Substring(url)
        if let r = rest.firstRange(of: "://") { rest = rest[r.upperBound...] }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { out += authority[..<at].split(separator: ":").map(String.init) }
        return out
    }

    /// `scheme://host:port/path` without user, password, query or fragment: what a report may show.
    public static func displayURL(_ url: String) -> String {
        var scheme = "", rest = Substring(url)
        if let r = rest.firstRange(of: "://") {
            scheme = String(rest[..<r.upperBound])
            rest = rest[r.upperBound...]
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let path = rest[authorityEnd...].prefix { $0 != "?" && $0 != "#" }
        return scheme + authority + path
    }
}
