// Fuzz target: certificate metadata as shd reads it. The bytes are a PEM text handed to libcrypto through CCrypto's
// shd_cert_inspect (PEM_read_bio_X509 of the leaf and its chain, notAfter, RFC 2253 names, X509_check_host, chain
// verification), as a certificate probe reads a file or a tls probe the server's certificates. Needs libcrypto.so.3.
import Probes

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCertificates(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let pem = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte picks the name checked: none, a DNS name, an IP literal, a wildcard-looking one.
    let names: [String?] = [nil, "localhost", "127.0.0.1", "*.example.com"]
    let name = names[Int(pem.first ?? 0) % names.count]
    if let info = try? inspectCertificate(pem: pem, name: name, caFile: nil) {
        precondition(info.count >= 1 && info.count <= 64)
        _ = info.subject.count + info.issuer.count + info.chainError.count
    }
    return 0
}
