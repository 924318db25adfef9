// `set http_listen` values: the forms the daemon binds, and those check-rules refuses.
import Testing
import Alerting

@Suite struct ListenAddressTests {
    @Test(arguments: [
        ("127.0.0.1:9465", ListenAddress.ipv4("127.0.0.1", 9465), true),
        ("0.0.0.0:80", .ipv4("0.0.0.0", 80), false),
        ("[::1]:9465", .ipv6("::1", 9465), true),
        ("[::]:9465", .ipv6("::", 9465), false),
        ("/run/shd/http.sock", .unix("/run/shd/http.sock"), true),
    ])
    func parses(text: String, want: ListenAddress, local: Bool) throws {
        let a = try #require(ListenAddress(text))
        #expect(a == want)
        #expect(a.isLocal == local)
        #expect(a.description == text)
    }

    @Test(arguments: ["9465", "localhost:9465", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:9465", "[::1]9465",
                      "[127.0.0.1]:80", "run/shd.sock", ""])
    func refuses(text: String) {
        #expect(ListenAddress(text) == nil)
    }
}
