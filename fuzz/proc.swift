// Fuzz target: every /proc and /sys text parser and the arithmetic after it. The first byte picks the parser; the rest is the file.
//
// Selectors 0-25 parse the input and then build what the functions build from it (rows, rates,
// percentages, timestamps), so a value that parses but overflows later is found too. The input may
// hold two samples split at the first NUL byte: the rate paths then see the first as the previous
// sample (a huge increase, or a counter going backwards). Selectors 26 and up write the samples,
// one after the other, into one file of a copy of the machine-b fixture tree and run the real
// worker over it twice, so every read, parse and computation of the daemon's own path runs.
// No value read from the kernel may trap: a trap is a crash libFuzzer reports.
import Reports
@testable import Workers
#if canImport(Glibc)
import Glibc
#endif

/// The two samples of an input: before and after the first NUL byte (the same one twice without it).
func samples(_ bytes: [UInt8]) -> (first: [UInt8], second: [UInt8]) {
    guard let nul = bytes.firstIndex(of: 0) else { return (bytes, bytes) }
    return (Array(bytes[..<nul]), Array(bytes[(nul + 1)...]))
}

/// Files of the fixture tree the tree selectors write, with the worker that reads each.
let treeFiles: [(worker: String, path: String)] = [
    ("cpu", "proc/stat"), ("cpu", "proc/cpuinfo"), ("cpu", "sys/devices/system/cpu/online"),
    ("cpu", "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq"), ("load", "proc/loadavg"),
    ("memory", "proc/meminfo"), ("memory", "proc/vmstat"), ("pressure", "proc/pressure/cpu"),
    ("disk", "proc/diskstats"), ("disk", "proc/self/mountinfo"), ("disk", "statvfs"), ("network", "proc/net/dev"),
    ("network", "proc/net/sockstat"), ("network", "proc/net/tcp"), ("network", "proc/net/udp6"),
    ("processes", "proc/1/stat"), ("processes", "proc/1/status"), ("processes", "proc/sys/fs/file-nr"),
    ("hardware", "proc/mdstat"), ("hardware", "sys/class/hwmon/hwmon0/temp1_input"),
    ("hardware", "sys/devices/system/edac/mc/mc0/ce_count"), ("system", "proc/uptime"), ("system", "proc/stat"),
    ("system", "proc/self/status"), ("system", "proc/self/stat"), ("system", "adjtimex"),
]

/// A copy of machine-b under /tmp, made on the first tree input (scripts/fuzz runs from the repository root).
nonisolated(unsafe) var fuzzTree: String?
nonisolated(unsafe) var fuzzWorkers: [String: Worker] = [:]

func tree() -> String? {
    if let t = fuzzTree { return t }
    let dir = "/tmp/shd-fuzz-proc-\(getpid())"
    guard system("rm -rf '\(dir)' && cp -a Tests/WorkersTests/Fixtures/machine-b '\(dir)'") == 0 else { return nil }
    fuzzTree = dir
    // libFuzzer ends with exit(): the copy goes with it.
    atexit { if let t = fuzzTree { _ = system("rm -rf '\(t)'") } }
    return dir
}

func write(_ path: String, _ bytes: [UInt8]) {
    guard let f = fopen(path, "w") else { return }
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
}

/// Writes each sample into the tree's file and runs the worker after each; the report must encode.
func runTree(_ index: Int, _ bytes: [UInt8]) {
    guard let dir = tree() else { return }
    let (worker, path) = treeFiles[index]
    let w = fuzzWorkers[worker] ?? (worker == "system" ? SystemWorker.make(accounting: SelfAccounting()) : WorkerRegistry.make(worker)!)
    fuzzWorkers[worker] = w
    let roots = SourceRoots(proc: dir + "/proc", sys: dir + "/sys", etc: dir + "/etc")
    let full = dir + "/" + path
    let original = (try? readOnce(full)) ?? []
    let (a, b) = samples(bytes)
    for s in [a, b] {
        write(full, s)
        let r = w.collect(roots: roots, options: WorkerOptions())
        _ = r.json.encoded(pretty: false)
    }
    write(full, original)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProc(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let selector = Int(data[0]) % (26 + treeFiles.count)
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let slice = bytes[...]
    let (first, second) = samples(bytes)
    switch selector {
    case 0:
        if let l = try? parseLoadAvg(bytes) { _ = rounded(l.load1 / 3, 3) }
    case 1:
        guard let a = try? parseProcStat(first), let b = try? parseProcStat(second) else { break }
        for c in b.cpus { _ = cpuUtilisation(c, since: a.cpus.first { $0.name == c.name }) }
        if let bt = b.bootTime, let s = try? validBootTime(bt) { _ = Timestamp(microseconds: s * 1_000_000).rfc3339 }
        let sample = CounterSample(monotonic: 0, values: ["ctxt": a.contextSwitches ?? 0])
        _ = sample.rate("ctxt", to: b.contextSwitches ?? 0, at: 1)
    case 2:
        if let m = try? parseMeminfo(bytes) {
            _ = memoryUsageRow(m)
            _ = memoryUsageRow(m, lowWatermarkBytes: m["MemFree"] ?? 0)
        }
    case 3:
        guard let a = try? parseVmstat(first), let b = try? parseVmstat(second) else { break }
        let s = CounterSample(monotonic: 0, values: a)
        for (k, v) in b { _ = s.rate(k, to: v, at: 0.5) }
    case 4:
        if let p = try? parsePressure(bytes) { for l in p { _ = Double(l.totalMicroseconds) / 1_000_000 } }
    case 5: _ = try? parseUptime(bytes)
    case 6: _ = parseOSRelease(bytes)
    case 7: _ = try? parseSelfStatus(bytes)
    case 8:
        if let m = try? parseMountInfo(bytes) { _ = FilesystemsFunction.reported(m, WorkerOptions()) }
    case 9:
        guard let a = try? parseDiskStats(first), let b = try? parseDiskStats(second) else { break }
        for s in b { _ = DiskIOFunction.row(s, partition: false, previous: a.first { $0.device == s.device }, elapsed: 0.25) }
    case 10:
        guard let a = try? parseNetDev(first), let b = try? parseNetDev(second) else { break }
        for s in b {
            _ = InterfacesFunction.row(s, link: .init(), previous: a.first { $0.name == s.name }, elapsed: 0.25)
        }
    case 11:
        if let s = try? parseSockstat(bytes) {
            for (_, kv) in s { for (_, v) in kv { _ = saturatingProduct(v, pageSizeBytes) } }
        }
    case 12:
        if let entries = try? parseSocketTable(bytes) {
            _ = listeningSockets(entries, udp: false)
            for e in entries { _ = formatAddress(e.localAddress) }
        }
        var counts: [UInt8: Int] = [:]
        _ = try? countSocketStates(bytes, into: &counts)
    case 13: _ = try? parseProcessStat(slice)
    case 14: _ = try? parseProcessStatus(bytes)
    case 15: _ = try? parseFileNr(bytes)
    case 16: _ = parsePasswd(bytes)
    case 17:
        if let arrays = try? parseMdStat(bytes) { for a in arrays { _ = RaidFunction.row(a) } }
    case 18:
        if let v = try? parseSysfsInteger(bytes) { _ = clampedInt64(Double(v)) }
    case 19:
        if let c = try? parseAdjtimexPrint(bytes) { _ = (c.offsetSeconds, c.synchronised, c.stateName) }
    case 20: _ = try? parseProcessStat(bytes[...]).cpuTicks  // system.self: shd's own CPU ticks
    case 21: _ = parseCPUInfoTopology(bytes)
    case 22:
        if let t = try? parseStatfsSidecar(bytes) {
            let m = MountEntry(mountID: 1, parentID: 0, mountPoint: "/", options: [], fstype: "ext4", source: "/dev/x",
                               superOptions: [])
            for (_, o) in t { _ = FilesystemsFunction.row(m, o) }
        }
    case 23: _ = parseCPUListCount(slice)
    case 24:
        _ = decodeOctalEscapes(slice)
        if let (address, _) = parseHexEndpoint(slice) { _ = formatAddress(address) }
    case 25:
        _ = parseUInt64(slice)
        _ = parseInt64(slice)
        if let d = parseDouble(slice) { _ = rounded(d, 3) }
    default:
        runTree(selector - 26, bytes)
    }
    return 0
}
