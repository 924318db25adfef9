// /proc/mdstat parsing: Linux software RAID arrays, their members and sync progress.

/// One md array.
public struct MdArray: Equatable, Sendable {
    public var name: String
    /// `active` or `inactive` (plus `(read-only)` / `(auto-read-only)` when so marked).
    public var activity: String
    public var readOnly: Bool
    /// `raid1`, `raid5`, `linear`, … ("" for an inactive array, which prints none).
    public var level: String
    /// Members listed on the array line, with their flags: `(F)` failed, `(S)` spare (on an
    /// inactive array every member without a role yet), `(J)` a raid4/5/6 write journal.
    public var members: Int
    public var failedMembers: Int
    public var spareMembers: Int
    public var journalMembers: Int = 0
    /// From `[n/m]`: devices the array should have and devices working; nil when not printed.
    public var devicesTotal: Int?
    public var devicesActive: Int?
    /// `recovery`, `resync`, `reshape` or `check` while one runs (also `resync` for DELAYED/PENDING).
    public var syncAction: String?
    public var syncPercent: Double?
    /// `finish=98.6min`, in seconds.
    public var syncRemainingSeconds: Double?

    /// The one-word state rules look at.
    public var state: String {
        if activity != "active" { return "inactive" }
        switch syncAction {
        case "recovery": return "recovering"
        case "resync": return "resyncing"
        case "reshape": return "reshaping"
        case "check", "repair": return "checking"
        default: break
        }
        return degraded ? "degraded" : "clean"
    }

    /// Devices missing, from sysfs `md/degraded` when it was read (set by the caller).
    public var sysfsDegraded: Int?

    /// The kernel says devices are missing: `[n/m]` with m < n, or sysfs `md/degraded` above 0
    /// (both print `mddev->degraded`). A failed or spare member listed beside a complete set is
    /// not a missing one (a spare that took over leaves the failed disk listed until it is
    /// removed), and an array that prints no `[n/m]` (raid0, linear, inactive) is not degraded
    /// unless sysfs says so.
    public var degraded: Bool {
        if let d = sysfsDegraded, d > 0 { return true }
        if let t = devicesTotal, let a = devicesActive { return a < t }
        return false
    }

    /// Devices the array should have and devices working, as reported: `[n/m]` when printed.
    /// Without it (raid0, linear): the members listed that are neither spares nor journals, and
    /// those of them not failed. An inactive array runs nothing: none is working, and its total is
    /// every member the kernel lists for it (inactive arrays print no `[n/m]`).
    public var counts: (total: Int, active: Int) {
        if activity != "active" { return (devicesTotal ?? members, 0) }
        if let t = devicesTotal, let a = devicesActive { return (t, a) }
        let listed = members - spareMembers - journalMembers
        return (listed, max(0, listed - failedMembers))
    }
}

/// `/proc/mdstat` (drivers/md/md.c `md_seq_show`):
/// ```
/// Personalities : [raid1] [raid6] [raid5] [raid4]
/// md0 : active raid5 sdh1[4] sdg1[2] sdf1[1](F) sde1[0]
///       2929893888 blocks super 1.2 level 5, 512k chunk, algorithm 2 [4/3] [UUU_]
///       [=>...................]  recovery =  8.5% (83124736/976631296) finish=98.6min speed=150939K/sec
///       bitmap: 0/8 pages [0KB], 65536KB chunk
///
/// md1 : active raid1 sdb2[1] sda2[0]
///       1048512 blocks [2/2] [UU]
///       resync=DELAYED
///
/// unused devices: <none>
/// ```
/// An array line is `mdN : active|inactive [(read-only)] [level] member[i](W|J|F|S|R)…`; the lines
/// below it until the next array carry `[total/active]` and a sync line. Other lines (Personalities,
/// bitmap, unused devices, lines from newer kernels) are skipped. An array line without a state is
/// an error.
public func parseMdStat(_ bytes: [UInt8]) throws(CollectError) -> [MdArray] {
    var out: [MdArray] = []
    var failure: CollectError?
    forEachLine(bytes) { line in
        if failure != nil { return }
        let f = fields(line)
        if f.isEmpty { return }
        let startsAtColumn0 = line.first.map { !isSpace($0) } ?? false
        if startsAtColumn0, f.count >= 2, equals(f[1], ":"), hasPrefix(f[0], "md") {
            guard f.count >= 3 else {
                failure = CollectError("mdstat: array line without state: '\(string(line))'")
                return
            }
            var a = MdArray(name: string(f[0]), activity: string(f[2]), readOnly: false, level: "", members: 0,
                            failedMembers: 0, spareMembers: 0)
            for tok in f[3...] {
                if tok.first == UInt8(ascii: "(") {
                    if hasPrefix(tok, "(read-only)") || hasPrefix(tok, "(auto-read-only)") { a.readOnly = true }
                    continue
                }
                if let bracket = tok.firstIndex(of: UInt8(ascii: "[")), bracket > tok.startIndex {
                    a.members += 1
                    let flags = tok[bracket...]
                    if flags.contains(UInt8(ascii: "F")) { a.failedMembers += 1 }
                    else if flags.contains(UInt8(ascii: "S")) { a.spareMembers += 1 }
                    if flags.contains(UInt8(ascii: "J")) { a.journalMembers += 1 }
                } else if a.level.isEmpty && a.members == 0 {
                    a.level = string(tok)
                }
            }
            out.append(a)
            return
        }
        guard !startsAtColumn0, !out.isEmpty else { return }
        var a = out[out.count - 1]
        for (i, tok) in f.enumerated() {
            // [4/3] : devices that should be there / devices working.
            if tok.first == UInt8(ascii: "["), tok.last == UInt8(ascii: "]"), let slash = tok.firstIndex(of: UInt8(ascii: "/")) {
                if let t = parseUInt64(tok[(tok.startIndex + 1)..<slash]), let w = parseUInt64(tok[(slash + 1)..<(tok.endIndex - 1)]) {
                    a.devicesTotal = Int(clamping: t)
                    a.devicesActive = Int(clamping: w)
                }
            }
            // "recovery =  8.5%" (older kernels also print "resync=8.5%"), or "resync=DELAYED".
            for action in ["recovery", "resync", "reshape", "check", "repair"] where hasPrefixString(tok, action) {
                a.syncAction = action
                var pct: ArraySlice<UInt8>? = nil
                let rest = tok.dropFirst(action.utf8.count)
                if rest.first == UInt8(ascii: "=") && rest.count > 1 {
                    pct = rest.dropFirst()
                } else if i + 2 < f.count, equals(f[i + 1], "=") {
                    pct = f[i + 2]
                } else if i + 1 < f.count, f[i + 1].first == UInt8(ascii: "=") {
                    pct = f[i + 1].dropFirst()
                }
                if let p = pct, p.last == UInt8(ascii: "%"), let v = parseDouble(p.dropLast()) { a.syncPercent = v }
            }
            if hasPrefix(tok, "finish="), hasSuffixString(tok, "min"), let m = parseDouble(tok.dropFirst(7).dropLast(3)) {
                a.syncRemainingSeconds = m * 60
            }
        }
        out[out.count - 1] = a
    }
    if let failure { throw failure }
    return out
}

func hasPrefixString(_ s: ArraySlice<UInt8>, _ p: String) -> Bool {
    s.count >= p.utf8.count && s.prefix(p.utf8.count).elementsEqual(p.utf8)
}

func hasSuffixString(_ s: ArraySlice<UInt8>, _ p: String) -> Bool {
    s.count >= p.utf8.count && s.suffix(p.utf8.count).elementsEqual(p.utf8)
}
