// Fuzz target: shd.conf as the daemon reads it — settings and channel declarations checked by Rules, then
// each channel turned into delivery settings by Notify (option types, URLs, secret-token extraction, scrubbing).
// Secret files named by the input are read with the daemon's own permission checks; the fuzzer runs in a
// scratch folder so they are almost always missing, which is itself a path worth exercising.
import Reports
import Rules
import Workers
@testable import Notify

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let result = RuleSetLoader.load(sources: [("shd.conf", text)], catalog: WorkerRegistry.catalog)
    guard let config = result.configuration else { return 0 }
    for decl in config.channels {
        guard let channel = try? ChannelConfig(decl) else { continue }
        // The address a kind talks to (url for the HTTP kinds, server for smtp), as the channel's log lines name it.
        let url = (decl["url"] ?? decl["server"])?.stringValue ?? channel.target
        _ = channel.target
        _ = channel.scrub("error talking to " + url + " with " + channel.secrets.joined(separator: " "))
        _ = ChannelConfig.tokensOf(url)
    }
    return 0
}
