// Fuzz target: probe declarations and what a probe run brings back. The input's first line is a `probe` block (checked
// by Rules, decoded by ProbePlan: addresses, URLs, status sets, regexes, header secrets); the rest is an answer body and
// an error text, judged by HTTPProbeResult (status set, line-by-line body regex, secret scrubbing) and shown through
// ProbeSecrets (display URLs, URL tokens).
import Notify
import Reports
import Rules
@testable import Probes

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProbes(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let cut = bytes.firstIndex(of: 10) ?? bytes.count
    let declaration = String(decoding: bytes[..<cut], as: UTF8.self)
    let rest = cut < bytes.count ? Array(bytes[(cut + 1)...]) : []
    let status = rest.first.map { 100 + Int($0) * 2 } ?? 0
    let result = RuleSetLoader.load(sources: [("probes.conf", declaration)], catalog: Catalog(workers: []))
    for decl in result.configuration?.probes ?? [] {
        guard let plan = try? ProbePlan(decl) else { continue }
        if case .http(let h) = plan.kind {
            let error = String(decoding: rest.prefix(200), as: UTF8.self)
            for code in [0, 28] {
                let answer = ProbeAnswer(curlCode: code, error: error, status: status, body: rest, totalSeconds: 0.1,
                                         connectSeconds: 0.01, redirects: 0, certificates: [])
                _ = HTTPProbeResult(plan: plan, http: h, answer: answer).row.encodedForFuzz
            }
            _ = ProbeSecrets.displayURL(h.url)
        }
        if case .tls(let t) = plan.kind { _ = ProbeSecrets.tokens(ofURL: t.url) }
    }
    let text = String(decoding: rest, as: UTF8.self)
    _ = ProbeSecrets.displayURL(text)
    _ = ProbeSecrets.tokens(ofURL: text)
    _ = ProbeAddress.parse(text)
    _ = parseStatusRange(text)
    return 0
}

extension JSONObject {
    var encodedForFuzz: String { JSONValue.object(self).encoded() }
}
