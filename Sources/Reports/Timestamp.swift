// Wall-clock instants and their RFC 3339 form with microseconds and the UTC offset.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An instant with microsecond precision, plus the local UTC offset used when it is printed.
public struct Timestamp: Equatable, Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Microseconds since the Unix epoch.
    public var microseconds: Int64
    /// Offset from UTC in seconds used when formatting (not part of identity for ordering).
    public var utcOffsetSeconds: Int32

    public init(microseconds: Int64, utcOffsetSeconds: Int32 = 0) {
        self.microseconds = microseconds
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    public init(seconds: Double, utcOffsetSeconds: Int32 = 0) {
        self.init(microseconds: Int64((seconds * 1_000_000).rounded()), utcOffsetSeconds: utcOffsetSeconds)
    }

    /// Seconds since the epoch as a Double.
    public var seconds: Double { Double(microseconds) / 1_000_000 }

    /// The current wall-clock time with the machine's local UTC offset.
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tmv = tm()
        localtime_r(&t, &tmv)
        return Timestamp(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec / 1000),
                         utcOffsetSeconds: Int32(tmv.tm_gmtoff))
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microseconds < b.microseconds }
    public static func == (a: Timestamp, b: Timestamp) -> Bool { a.microseconds == b.microseconds }
    public func hash(into h: inout Hasher) { h.combine(microseconds) }

    public func adding(seconds s: Double) -> Timestamp {
        Timestamp(microseconds: microseconds + Int64((s * 1_000_000).rounded()), utcOffsetSeconds: utcOffsetSeconds)
    }

    /// `2026-11-25T08:00:01.123456+00:00`
    public var rfc3339: String {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        writeRFC3339(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends ``rfc3339``'s 32 bytes to `out` (without making a string).
    public func writeRFC3339(into out: inout [UInt8]) {
        let local = microseconds + Int64(utcOffsetSeconds) * 1_000_000
        var secs = local / 1_000_000
        var micros = local % 1_000_000
        if micros < 0 { micros += 1_000_000; secs -= 1 }
        let (y, mo, d, h, mi, s) = Timestamp.civil(fromEpochSeconds: secs)
        func two(_ v: Int64) {
            out.append(UInt8(ascii: "0") + UInt8(v / 10))
            out.append(UInt8(ascii: "0") + UInt8(v % 10))
        }
        func digits(_ v: Int64, _ width: Int) {
            if width == 2 && v >= 0 && v < 100 { return two(v) }
            if width == 4 && v >= 0 && v < 10000 { two(v / 100); two(v % 100); return }
            if width == 6 && v >= 0 && v < 1_000_000 { two(v / 10000); two(v / 100 % 100); two(v % 100); return }
            // Out of the usual range (a year past 9999): String(v), zero-padded on the left, as before.
            let text = Array(String(v).utf8)
            if text.count < width { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - text.count)) }
            out.append(contentsOf: text)
        }
        digits(y, 4); out.append(UInt8(ascii: "-")); digits(mo, 2); out.append(UInt8(ascii: "-")); digits(d, 2)
        out.append(UInt8(ascii: "T")); digits(h, 2); out.append(UInt8(ascii: ":")); digits(mi, 2); out.append(UInt8(ascii: ":"))
        digits(s, 2); out.append(UInt8(ascii: ".")); digits(micros, 6)
        let off = Int64(utcOffsetSeconds)
        out.append(off < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        digits(abs(off) / 3600, 2); out.append(UInt8(ascii: ":")); digits((abs(off) % 3600) / 60, 2)
    }

    public var description: String { rfc3339 }

    /// The calendar fields of this instant in its own UTC offset (for other date formats, such as
    /// RFC 5322's). `weekday` is 0 for Sunday … 6 for Saturday.
    public var localComponents: (year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64, weekday: Int64) {
        let local = Int64((Double(microseconds) / 1_000_000).rounded(.down)) + Int64(utcOffsetSeconds)
        let (y, mo, d, h, mi, s) = Timestamp.civil(fromEpochSeconds: local)
        var days = local / 86400
        if local % 86400 < 0 { days -= 1 }
        // 1970-01-01 was a Thursday (4).
        return (y, mo, d, h, mi, s, ((days + 4) % 7 + 7) % 7)
    }

    /// Parses RFC 3339 (`Z` or `±hh:mm`, optional fraction of up to 9 digits).
    public init?(rfc3339 text: String) {
        let b = Array(text.utf8)
        func num(_ from: Int, _ n: Int) -> Int64? {
            guard from + n <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + n) {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(b[i] - 0x30)
            }
            return v
        }
        guard b.count >= 20, let y = num(0, 4), b[4] == 0x2D, let mo = num(5, 2), b[7] == 0x2D, let d = num(8, 2),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == 0x20,
              let h = num(11, 2), b[13] == 0x3A, let mi = num(14, 2), b[16] == 0x3A, let s = num(17, 2),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var micros: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                if digits < 6 { micros = micros * 10 + Int64(b[i] - 0x30) }
                digits += 1; i += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 6)..<6 { micros *= 10 }
        }
        guard i < b.count else { return nil }
        var offset: Int64 = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard let oh = num(i + 1, 2), b.count > i + 3, b[i + 3] == 0x3A, let om = num(i + 4, 2) else { return nil }
            offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else { return nil }
        guard i == b.count else { return nil }
        let days = Timestamp.daysFromCivil(y, mo, d)
        let local = days * 86400 + h * 3600 + mi * 60 + s
        self.init(microseconds: (local - offset) * 1_000_000 + micros, utcOffsetSeconds: Int32(offset))
    }

    // Howard Hinnant's civil-from-days algorithms: exact for the proleptic Gregorian calendar.
    static func civil(fromEpochSeconds secs: Int64) -> (Int64, Int64, Int64, Int64, Int64, Int64) {
        var days = secs / 86400
        var rem = secs % 86400
        if rem < 0 { rem += 86400; days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60)
    }

    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
