// Certificates through libcrypto (Sources/CCrypto, dlopened on first need): what a row says about one, and which
// files a certificate probe's paths name.
import CCrypto
import Kit
import Reports
import Rules
#if canImport(Glibc)
import Glibc
#endif

/// libcrypto is not linked: it is loaded the first time a tls or certificate probe is declared.
public enum CryptoLibrary {
    /// nil when libcrypto is usable, or why not ("libcrypto.so.3: cannot open shared object file: … — install libssl3").
    public static func load() -> String? {
        var buffer = [CChar](repeating: 0, count: 512)
        let rc = buffer.withUnsafeMutableBufferPointer { shd_crypto_load($0.baseAddress, $0.count) }
        if rc == 0 { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// What shd reads from a certificate.
public struct CertificateInfo: Sendable, Equatable {
    public var subject: String
    public var issuer: String
    /// notAfter, seconds since the epoch.
    public var notAfter: Int64
    public var daysLeft: Double
    /// nil without a name to check.
    public var sanMatch: Bool?
    public var chainValid: Bool
    public var chainError: String
    public var count: Int
}

public struct CertificateError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

/// Parses a PEM text (leaf first, then intermediates) with libcrypto and verifies it against `caFile` (the system's
/// CAs without one). Throws when libcrypto cannot be loaded or the text holds no certificate.
public func inspectCertificate(pem: [UInt8], name: String?, caFile: String?) throws(CertificateError) -> CertificateInfo {
    if let why = CryptoLibrary.load() { throw CertificateError(description: why) }
    var info = shd_cert_info()
    var err = [CChar](repeating: 0, count: 256)
    let rc = pem.withUnsafeBufferPointer { p in
        p.withMemoryRebound(to: CChar.self) { c in
            err.withUnsafeMutableBufferPointer { e in shd_cert_inspect(c.baseAddress, c.count, name, caFile, &info, e.baseAddress, e.count) }
        }
    }
    func text<T>(_ t: inout T) -> String {
        withUnsafeBytes(of: &t) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
    if rc != 0 { throw CertificateError(description: String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
    return CertificateInfo(subject: text(&info.subject), issuer: text(&info.issuer), notAfter: info.not_after,
                           daysLeft: info.days_left, sanMatch: info.san_match < 0 ? nil : info.san_match == 1,
                           chainValid: info.chain_valid == 1, chainError: text(&info.chain_error), count: Int(info.count))
}

/// The certificate fields of a `probes.tls` or `probes.certificates` row (an error alone when none could be read).
func appendCertificate(_ result: Result<CertificateInfo, CertificateError>, to row: inout Row) {
    switch result {
    case .success(let c):
        row.append("subject", .string(c.subject))
        row.append("issuer", .string(c.issuer))
        row.append("not_after", .string(Timestamp(microseconds: c.notAfter &* 1_000_000).rfc3339))
        row.append("days_left", .double((c.daysLeft * 100).rounded() / 100))
        if let m = c.sanMatch { row.append("san_match", .bool(m)) }
        row.append("chain_valid", .bool(c.chainValid))
        row.append("chain_error", .string(c.chainError))
        row.append("error", "")
    case .failure(let e):
        row.append("error", .string(e.description))
    }
}

/// The files a certificate probe reads: each path as written when it is a file, the `*.pem`, `*.crt` and `*.cer` files
/// of a folder, and the matches of `*` and `?` in any segment (`/etc/letsencrypt/live/*/fullchain.pem`). Sorted, no
/// duplicates. A path that matches nothing is kept as written, so its row says why it cannot be read.
public func certificateFiles(_ paths: [String]) -> [String] {
    var out: [String] = []
    for p in paths {
        let found = expand(p)
        out += found.isEmpty ? [p] : found
    }
    var seen: Set<String> = []
    return out.filter { seen.insert($0).inserted }
}

/// The folders whose changes can change what `paths` name or contain (for inotify): each file's folder, each
/// folder itself, and the fixed prefix of a glob with the folders it matches.
public func certificateFolders(_ paths: [String]) -> [String] {
    var out: Set<String> = []
    for p in paths {
        if isDirectory(p) { out.insert(p) }
        for f in certificateFiles([p]) { out.insert(parent(f)) }
        let segs = p.split(separator: "/", omittingEmptySubsequences: true)
        if let g = segs.firstIndex(where: { $0.contains("*") || $0.contains("?") }) {
            out.insert("/" + segs[..<g].joined(separator: "/"))
        }
    }
    return out.sorted()
}

private func parent(_ path: String) -> String {
    guard let i = path.lastIndex(of: "/") else { return "." }
    return i == path.startIndex ? "/" : String(path[..<i])
}

private func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

private func expand(_ path: String) -> [String] {
    guard path.hasPrefix("/") else { return [] }
    var current = [""]
    let segs = path.split(separator: "/", omittingEmptySubsequences: true)
    for s in segs {
        if s.contains("*") || s.contains("?") {
            let pattern = Pattern.glob(String(s))
            current = current.flatMap { dir in
                listDirectory(dir.isEmpty ? "/" : dir).sorted().filter { !$0.hasPrefix(".") && pattern.matches($0) }
                    .map { dir + "/" + $0 }
            }
        } else {
            current = current.map { $0 + "/" + s }
        }
    }
    var files: [String] = []
    for c in current {
        if isDirectory(c) {
            files += listDirectory(c).sorted().filter { $0.hasSuffix(".pem") || $0.hasSuffix(".crt") || $0.hasSuffix(".cer") }.map { c + "/" + $0 }
        } else if access(c, F_OK) == 0 {
            files.append(c)
        }
    }
    return files
}
