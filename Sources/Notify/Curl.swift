// libcurl's multi-socket API driven by an EventHost: every transfer's sockets and timeouts live in the host loop.
import Alerting
import CCurl
#if canImport(Glibc)
import Glibc
#endif

/// libcurl is not linked: it is loaded (dlopen of libcurl.so.4, then `curl_global_init`) the first time a
/// configuration has a channel that sends through it, so a daemon that only logs or runs programs never maps
/// libcurl and its TLS, Kerberos, LDAP and PKCS#11 dependencies (about 1 MB of private memory at idle).
public enum CurlLibrary {
    /// Loads libcurl once per process; later calls after a success return nil at once, after a failure try again.
    /// Returns nil when libcurl is usable, or why not ("libcurl.so.4: cannot open shared object file: … — install
    /// libcurl4"). The daemon calls it at startup before any thread exists, and on the loop thread on a reload
    /// that brings the first channel needing it (curl_global_init is thread-safe from libcurl 7.84 on).
    public static func load() -> String? {
        var buffer = [CChar](repeating: 0, count: 512)
        let rc = buffer.withUnsafeMutableBufferPointer { shd_curl_load($0.baseAddress, $0.count) }
        if rc == 0 { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True once `load()` succeeded.
    public static var isLoaded: Bool { shd_curl_loaded() != 0 }
}

/// What one transfer sends: an HTTP POST or an SMTP upload.
struct TransferRequest {
    enum Scheme { case http, smtp }
    var proto: Scheme = .http
    var url: String
    var headers: [String] = []
    var body: [UInt8] = []
    /// Whole-attempt timeout in seconds.
    var timeout: Double = ChannelKinds.timeout.defaultSeconds
    var caFile: String?
    /// `CURLOPT_CONNECT_TO`: "HOST:PORT:ADDRESS:PORT" (empty HOST or PORT: any), a resolved Alertmanager peer.
    var connectTo: String?
    // SMTP only.
    var mailFrom: String?
    var recipients: [String] = []
    /// Require TLS (STARTTLS on smtp://); false only for an explicit `tls "none"`.
    var requireTLS = true
    var username: String?
    var password: String?
    /// A probe's request (Sources/Probes): replaces the POST and SMTP options above.
    var probe: ProbeRequest?
}

/// How a transfer ended. `curlCode` 0 means the exchange completed (look at `status`).
struct TransferResult {
    var curlCode: Int
    /// curl's error text (may contain host names, never a URL path: see `Redactor`).
    var error: String
    /// HTTP status, or the last SMTP reply code.
    var status: Int
    /// The first 64 KiB of the response body.
    var body: [UInt8]
    /// Seconds from a `Retry-After` header, if any.
    var retryAfter: Double?
    /// SMTP: the server's last 4xx or 5xx reply, its lines joined by spaces ("550 5.1.1 <a@b>: no such user"); libcurl's own
    /// error text says only which command failed and the code.
    var serverReply = ""
    /// Probes: body bytes received, the stop at `maxBody`, times and redirects, the server's certificates (PEM).
    var received = 0
    var truncated = false
    var totalSeconds = 0.0
    var connectSeconds = 0.0
    var redirects = 0
    var certificates: [String] = []
    var completed: Bool { curlCode == 0 }
}

/// One easy handle and the buffers curl reads from and writes into while it runs.
final class Transfer {
    let easy: UnsafeMutableRawPointer
    let request: TransferRequest
    var response: [UInt8] = []
    var uploadOffset = 0
    /// SMTP reply lines: those of the reply being read, and the last complete 4xx or 5xx reply (a QUIT's 221 after
    /// it must not replace it).
    var replyLines: [String] = []
    var errorReply: [String] = []
    /// Body bytes seen, and whether the transfer was stopped at the probe's `maxBody`.
    var received = 0
    var truncated = false
    let responseCap: Int
    let completion: (TransferResult) -> Void
    var lists: [UnsafeMutablePointer<curl_slist>] = []
    fileprivate let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    static let responseCap = 64 * 1024

    fileprivate init?(request: TransferRequest, completion: @escaping (TransferResult) -> Void) {
        guard CurlLibrary.isLoaded, let easy = shd_curl_easy_init() else { return nil }
        self.easy = easy
        self.request = request
        self.completion = completion
        responseCap = request.probe?.maxBody ?? Transfer.responseCap
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        shd_curl_easy_cleanup(easy)
        for l in lists { shd_curl_slist_free_all(l) }
        errorBuffer.deallocate()
    }

    func slist(_ items: [String]) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for s in items { list = shd_curl_slist_append(list, s) }
        if let list { lists.append(list) }
        return list
    }

    /// Sets every option; returns false if curl refused one (an unsupported protocol or option).
    fileprivate func configure() -> Bool {
        let me = Unmanaged.passUnretained(self).toOpaque()
        var ok = true
        func check(_ c: CURLcode) { if c != CURLE_OK { ok = false } }
        check(shd_easy_setopt_string(easy, CURLOPT_URL, request.url))
        check(shd_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        check(shd_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        check(shd_easy_setopt_pointer(easy, CURLOPT_PRIVATE, me))
        let ms = max(1, Int(request.timeout * 1000))
        check(shd_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, ms))
        check(shd_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, min(ms, 10_000)))
        check(shd_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1))
        check(shd_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2))
        if let ca = request.caFile { check(shd_easy_setopt_string(easy, CURLOPT_CAINFO, ca)) }
        check(shd_easy_setopt_write(easy, CURLOPT_WRITEFUNCTION, { ptr, size, n, user in
            let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
            let count = size * n
            let room = t.responseCap - t.response.count
            if room > 0, let ptr {
                ptr.withMemoryRebound(to: UInt8.self, capacity: count) {
                    t.response.append(contentsOf: UnsafeBufferPointer(start: $0, count: min(room, count)))
                }
            }
            t.received += min(max(room, 0), count)
            // A probe reads at most max_body: returning short makes curl stop the transfer (CURLE_WRITE_ERROR).
            if t.request.probe != nil && count > room {
                t.truncated = true
                return max(room, 0)
            }
            return count
        }))
        check(shd_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me))
        if let u = request.username { check(shd_easy_setopt_string(easy, CURLOPT_USERNAME, u)) }
        if let p = request.password { check(shd_easy_setopt_string(easy, CURLOPT_PASSWORD, p)) }

        if let probe = request.probe {
            configureProbe(probe, check)
            return ok
        }
        switch request.proto {
        case .http:
            // Never follow a URL to file:// or another scheme, never redirect (a redirect could leak the body).
            check(shd_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
            check(shd_easy_setopt_long(easy, CURLOPT_POST, 1))
            check(shd_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            check(request.body.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: CChar.self) {
                    shd_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress))
                }
            })
            // "Expect:" disables 100-continue, which would stall a second per request on servers that ignore it.
            check(shd_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, slist(request.headers + ["Expect:"])))
            if let c = request.connectTo { check(shd_easy_setopt_slist(easy, CURLOPT_CONNECT_TO, slist([c]))) }
        case .smtp:
            check(shd_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps"))
            if let from = request.mailFrom { check(shd_easy_setopt_string(easy, CURLOPT_MAIL_FROM, "<\(from)>")) }
            check(shd_easy_setopt_slist(easy, CURLOPT_MAIL_RCPT, slist(request.recipients.map { "<\($0)>" })))
            check(shd_easy_setopt_long(easy, CURLOPT_USE_SSL,
                                       request.requireTLS ? Int(CURLUSESSL_ALL.rawValue) : Int(CURLUSESSL_NONE.rawValue)))
            check(shd_easy_setopt_long(easy, CURLOPT_UPLOAD, 1))
            check(shd_easy_setopt_off(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.count)))
            check(shd_easy_setopt_read(easy, CURLOPT_READFUNCTION, { ptr, size, n, user in
                let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                let count = min(size * n, t.request.body.count - t.uploadOffset)
                if count > 0, let ptr {
                    t.request.body.withUnsafeBytes { src in
                        UnsafeMutableRawPointer(ptr).copyMemory(from: src.baseAddress! + t.uploadOffset, byteCount: count)
                    }
                    t.uploadOffset += count
                }
                return max(0, count)
            }))
            check(shd_easy_setopt_pointer(easy, CURLOPT_READDATA, me))
            // libcurl hands every SMTP reply line to the header callback: keep the last reply for the log.
            check(shd_easy_setopt_write(easy, CURLOPT_HEADERFUNCTION, { ptr, size, n, user in
                let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                let count = size * n
                if let ptr {
                    ptr.withMemoryRebound(to: UInt8.self, capacity: count) {
                        t.replyLine(Array(UnsafeBufferPointer(start: $0, count: min(count, 512))))
                    }
                }
                return count
            }))
            check(shd_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, me))
        }
        return ok
    }

    /// One SMTP reply line: "250-…" continues a reply, "250 …" (or a bare code) ends it (RFC 5321 §4.2.1).
    func replyLine(_ bytes: [UInt8]) {
        var line = bytes
        while let last = line.last, last == 10 || last == 13 { line.removeLast() }
        let text = String(decoding: line.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
        if replyLines.count < 16 { replyLines.append(text) }
        if line.count < 4 || line[3] != UInt8(ascii: "-") {
            if let c = line.first, c == UInt8(ascii: "4") || c == UInt8(ascii: "5") { errorReply = replyLines }
            replyLines = []
        }
    }

    fileprivate func result(code: CURLcode) -> TransferResult {
        var status = 0
        _ = shd_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var retry: curl_off_t = 0
        _ = shd_easy_getinfo_off(easy, CURLINFO_RETRY_AFTER, &retry)
        var text = String(cString: errorBuffer)
        if text.isEmpty && code != CURLE_OK { text = String(cString: shd_curl_easy_strerror(code)) }
        var r = TransferResult(curlCode: Int(code.rawValue), error: text, status: status, body: response,
                               retryAfter: retry > 0 ? Double(retry) : nil, serverReply: errorReply.joined(separator: " "))
        if request.probe != nil { probeResult(&r) }
        return r
    }
}

/// A curl multi handle whose sockets and timer are registered with an `EventHost`.
///
/// Nothing here blocks: curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when it
/// needs a timeout (CURLMOPT_TIMERFUNCTION); the host calls back and we hand readiness to
/// `curl_multi_socket_action`.
final class CurlMulti {
    private let host: EventHost
    private let multi: UnsafeMutableRawPointer
    private var timer: TimerID?
    private var watched: Set<Int32> = []
    private var transfers: [UnsafeMutableRawPointer: Transfer] = [:]

    /// nil if libcurl is not loaded (`CurlLibrary.load()`) or could not make a multi handle.
    init?(host: EventHost) {
        guard CurlLibrary.isLoaded, let multi = shd_curl_multi_init() else { return nil }
        self.host = host
        self.multi = multi
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = shd_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, me)
        _ = shd_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, me)
        _ = shd_multi_setopt_socketfn(multi, { _, fd, what, user, _ in
            Unmanaged<CurlMulti>.fromOpaque(user!).takeUnretainedValue().socketChanged(fd: fd, what: what)
            return 0
        })
        _ = shd_multi_setopt_timerfn(multi, { _, ms, user in
            Unmanaged<CurlMulti>.fromOpaque(user!).takeUnretainedValue().timerChanged(ms: ms)
            return 0
        })
    }

    deinit {
        // Detach callbacks first: cleanup must not call back into an object being destroyed.
        _ = shd_multi_setopt_socketfn(multi, { _, _, _, _, _ in 0 })
        _ = shd_multi_setopt_timerfn(multi, { _, _, _ in 0 })
        for fd in watched { host.unwatch(fd: fd) }
        if let timer { host.cancelTimer(timer) }
        for (easy, _) in transfers { shd_curl_multi_remove_handle(multi, easy) }
        transfers.removeAll()
        shd_curl_multi_cleanup(multi)
    }

    var activeCount: Int { transfers.count }

    /// Starts a transfer; `completion` runs on the loop when it ends (also on a setup failure, on the next turn).
    @discardableResult
    func start(_ request: TransferRequest, completion: @escaping (TransferResult) -> Void) -> Transfer? {
        guard let t = Transfer(request: request, completion: completion), t.configure(),
              shd_curl_multi_add_handle(multi, t.easy) == CURLM_OK
        else {
            host.addTimer(after: 0) {
                completion(TransferResult(curlCode: Int(CURLE_FAILED_INIT.rawValue),
                                          error: "curl refused the transfer's options", status: 0, body: [], retryAfter: nil))
            }
            return nil
        }
        transfers[t.easy] = t
        return t
    }

    /// Aborts a running transfer without calling its completion.
    func cancel(_ t: Transfer) {
        guard transfers.removeValue(forKey: t.easy) != nil else { return }
        shd_curl_multi_remove_handle(multi, t.easy)
    }

    /// Aborts every running transfer without calling completions.
    func cancelAll() {
        for t in Array(transfers.values) { cancel(t) }
    }

    private func socketChanged(fd: curl_socket_t, what: Int32) {
        if what == CURL_POLL_REMOVE {
            host.unwatch(fd: fd)
            watched.remove(fd)
            return
        }
        var interest: IOInterest = []
        if what == CURL_POLL_IN || what == CURL_POLL_INOUT { interest.insert(.read) }
        if what == CURL_POLL_OUT || what == CURL_POLL_INOUT { interest.insert(.write) }
        watched.insert(fd)
        host.watch(fd: fd, interest: interest) { [weak self] ready in
            var flags: Int32 = 0
            if ready.contains(.read) { flags |= CURL_CSELECT_IN }
            if ready.contains(.write) { flags |= CURL_CSELECT_OUT }
            self?.action(fd: fd, flags: flags)
        }
    }

    private func timerChanged(ms: Int) {
        if let timer { host.cancelTimer(timer) }
        timer = nil
        guard ms >= 0 else { return }
        // Never call socket_action from inside curl's callback: run it on the next loop turn or later.
        timer = host.addTimer(after: Double(ms) / 1000) { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.action(fd: shd_curl_socket_timeout(), flags: 0)
        }
    }

    private func action(fd: curl_socket_t, flags: Int32) {
        var running: Int32 = 0
        _ = shd_curl_multi_socket_action(multi, fd, flags, &running)
        var left: Int32 = 0
        while let msg = shd_curl_multi_info_read(multi, &left) {
            guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle,
                  let t = transfers.removeValue(forKey: easy)
            else { continue }
            let result = t.result(code: shd_curlmsg_result(msg))
            shd_curl_multi_remove_handle(multi, easy)
            t.completion(result)
        }
    }
}
