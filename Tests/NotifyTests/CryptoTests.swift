// SHA-256 (FIPS 180-4 examples), HMAC-SHA256 (RFC 4231) and base64 (RFC 4648) against published vectors.
@testable import Notify
import Kit
import Testing

private func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

@Suite struct CryptoTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func sha256(message: String, digest: String) {
        #expect(SHA256.hex(SHA256.digest(Array(message.utf8))) == digest)
    }

    @Test func sha256OfAMillionAs() {
        let m = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hex(SHA256.digest(m)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Fed in pieces (a file read in chunks), the digest is the one of the whole, whatever the cut points: across a
    /// block, at one, and inside the padding's boundary (55, 56, 64 bytes).
    @Test(arguments: [1, 3, 55, 56, 63, 64, 65, 1000])
    func sha256FedInPiecesIsTheDigestOfTheWhole(_ chunk: Int) {
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 127, 128, 129, 1000, 4096 + 17] {
            let m = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            var s = SHA256()
            var i = 0
            while i < m.count {
                s.update(Array(m[i..<min(m.count, i + chunk)]))
                i += chunk
            }
            #expect(SHA256.hex(s.finalize()) == SHA256.hex(SHA256.digest(m)), "length \(length), chunk \(chunk)")
        }
        var million = SHA256()
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { million.update(piece) }
        #expect(SHA256.hex(million.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (case 5 is about truncated output, which we never do).
    @Test(arguments: [
        ("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        ("4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         String(repeating: "dd", count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        ("0102030405060708090a0b0c0d0e0f10111213141516171819",
         String(repeating: "cd", count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        (String(repeating: "aa", count: 131),
         "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (String(repeating: "aa", count: 131),
         "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ])
    func hmacRFC4231(key: String, data: String, mac: String) {
        #expect(SHA256.hex(SHA256.hmac(key: bytes(hex: key), message: bytes(hex: data))) == mac)
    }

    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                      ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func base64RFC4648(plain: String, encoded: String) {
        #expect(Encoding.base64(Array(plain.utf8)) == encoded)
        #expect(base64Decode(encoded) == Array(plain.utf8))
    }

    @Test func base64WrapsAt76ForMIME() {
        let data = (0..<1000).map { UInt8($0 % 256) }
        let text = Encoding.base64(data, lineLength: 76)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines.count > 1)
        #expect(lines.dropLast().allSatisfy { $0.count == 76 })
        #expect(lines.last!.count <= 76)
        #expect(base64Decode(text) == data)
    }
}
