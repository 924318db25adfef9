// Fuzz target: the JSON parser, the encoder round trip, RFC 3339 timestamps, report decoding, and the
// state-file loader (`Engine.importState` on the "engine" key, as `Daemon.loadState` does).
import Alerting
import Reports
import Rules
import Workers

let stateEngineConfig: Configuration = {
    let text = (try? readOnce("fuzz/state.rules")).map { String(decoding: $0, as: UTF8.self) } ?? ""
    let r = RuleSetLoader.load(sources: [("state.rules", text)], catalog: WorkerRegistry.catalog)
    guard let c = r.configuration else { fatalError("fuzz/state.rules does not check: \(r.diagnostics)") }
    return c
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzState(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let buffer = UnsafeBufferPointer(start: data, count: size)
    let v: JSONValue
    do { v = try JSONValue.parse(bytes: buffer) } catch { return 0 }
    // What the encoder writes, the parser reads back to the same value.
    let text = v.encoded()
    guard let back = try? JSONValue.parse(text) else { fatalError("encoded JSON does not parse: \(text)") }
    _ = back.encoded()
    if case .string(let s) = v { _ = Timestamp(rfc3339: s) }
    if let o = v.object { for (_, x) in o { if let s = x.string { _ = Timestamp(rfc3339: s) } } }
    _ = try? DaemonReport(json: v)
    _ = try? AlertEvent(json: v)
    let engine = Engine(configuration: stateEngineConfig)
    if let e = v["engine"] {
        do { _ = try engine.importState(e, now: Timestamp(microseconds: 1_764_000_000_000_000)) } catch { return 0 }
        // A restored engine must evaluate and export without trapping.
        _ = engine.exportState().encoded()
    }
    return 0
}
