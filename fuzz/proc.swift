// Fuzz target: every /proc and /sys text parser. The first byte picks the parser; the rest is the file.
import Reports
import Workers

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProc(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let selector = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let slice = bytes[...]
    switch selector % 26 {
    case 0: _ = try? parseLoadAvg(bytes)
    case 1: _ = try? parseProcStat(bytes)
    case 2: _ = try? parseMeminfo(bytes)
    case 3: _ = try? parseVmstat(bytes)
    case 4: _ = try? parsePressure(bytes)
    case 5: _ = try? parseUptime(bytes)
    case 6: _ = parseOSRelease(bytes)
    case 7: _ = try? parseSelfStatus(bytes)
    case 8: _ = try? parseMountInfo(bytes)
    case 9: _ = try? parseDiskStats(bytes)
    case 10: _ = try? parseNetDev(bytes)
    case 11: _ = try? parseSockstat(bytes)
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
    case 17: _ = try? parseMdStat(bytes)
    case 18: _ = try? parseSysfsInteger(bytes)
    case 19: _ = try? parseAdjtimexPrint(bytes)
    case 20: _ = try? parseStatCPUTicks(bytes)
    case 21: _ = parseCPUInfoTopology(bytes)
    case 22: _ = try? parseStatfsSidecar(bytes)
    case 23: _ = parseCPUListCount(slice)
    case 24:
        _ = decodeOctalEscapes(slice)
        if let (address, _) = parseHexEndpoint(slice) { _ = formatAddress(address) }
    default:
        _ = parseUInt64(slice)
        _ = parseInt64(slice)
        _ = parseDouble(slice)
    }
    return 0
}
