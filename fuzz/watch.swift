// Fuzz target: watch declarations and the small files a process watch reads. The input's first line is a `watch`
// block (checked by Rules, decoded by the daemon into the workers' specs: paths, unit names, command names, regexes);
// the rest is a file's bytes, parsed as a pid file, cgroup.procs, a command line, /proc/PID/limits, smaps_rollup and
// /proc/PID/stat, matched against a decoded `cmdline` regex (the rule language's backtracking budget), and hashed
// whole and in pieces (the two must agree). A trap or a disagreement is a crash libFuzzer reports.
import Kit
import Reports
import Rules
import Workers
@testable import Daemon

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWatch(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let cut = bytes.firstIndex(of: 10) ?? bytes.count
    let declaration = String(decoding: bytes[..<cut], as: UTF8.self)
    let rest = cut < bytes.count ? Array(bytes[(cut + 1)...]) : []
    let text = String(decoding: rest, as: UTF8.self)
    let result = RuleSetLoader.load(sources: [("watch.conf", declaration)], catalog: Catalog(workers: []))
    if let config = result.configuration {
        for spec in processWatchSpecs(config) {
            _ = spec.selectorText
            if case .cmdline(_, let matches) = spec.selector { _ = matches(parseCmdline(rest[...])) }
        }
        for spec in fileWatchSpecs(config) { _ = spec.paths.map { $0.count } }
    }
    _ = parsePidfile(rest[...])
    _ = parseCgroupProcs(rest)
    _ = parseLimit(rest, "Max open files")
    _ = parseSmapsRollupPss(rest)
    _ = try? parseProcessStat(rest[...])
    _ = normalizedUnitName(text)
    var pieces = SHA256()
    var i = 0
    let step = max(1, Int(rest.first ?? 1))
    while i < rest.count {
        pieces.update(Array(rest[i..<min(rest.count, i + step)]))
        i += step
    }
    if pieces.finalize() != SHA256.digest(rest) { fatalError("SHA-256 in pieces differs from the whole") }
    return 0
}
