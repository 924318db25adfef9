// Base64 (RFC 4648, MIME line wrapping) and lowercase hex, without Foundation.

public enum Encoding {
    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Base64 (RFC 4648); with `lineLength` the output is wrapped with CRLF (MIME: 76).
    public static func base64(_ bytes: [UInt8], lineLength: Int? = nil) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 4 / 3 + 4 + bytes.count / 38)
        var col = 0
        func put(_ c: UInt8) {
            if let l = lineLength, col == l {
                out.append(13); out.append(10)
                col = 0
            }
            out.append(c)
            col += 1
        }
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            put(base64Alphabet[Int(n >> 18 & 63)]); put(base64Alphabet[Int(n >> 12 & 63)])
            put(base64Alphabet[Int(n >> 6 & 63)]); put(base64Alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            put(base64Alphabet[Int(n >> 18 & 63)]); put(base64Alphabet[Int(n >> 12 & 63)])
            put(rest == 2 ? base64Alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            put(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
