// The one table of channel kinds in Notify against the table of their options (Alerting/Settings.swift).
import Alerting
@testable import Notify
import Testing

@Suite struct ChannelRegistryTests {
    /// A kind the checker accepts but Notify cannot build (or the reverse) would pass `check-rules` and fail at start.
    @Test func everyKindTheCheckerKnowsIsOneTypeAndNoOther() {
        #expect(ChannelRegistry.kinds.map { $0.name }.sorted() == ChannelKinds.kinds.keys.sorted())
        #expect(Set(ChannelRegistry.kinds.map { $0.name }).count == ChannelRegistry.kinds.count, "no name twice")
    }

    @Test func anUnknownKindIsRefusedNamingIt() {
        #expect(ChannelRegistry.kind(named: "pager") == nil)
        do {
            _ = try ChannelConfig(channel("p", "pager", []))
            Issue.record("a kind no type declares was accepted")
        } catch {
            #expect(error.description == "test.conf:1:1: channel p: unknown kind `pager`")
        }
    }

    /// An option the checker accepts but the type never reads would be silently ignored; one the type reads but the
    /// checker refuses is dead. (`ca_file` is read with the common options, for every kind.)
    @Test(arguments: ChannelRegistry.kinds.map { $0.name })
    func theTypeReadsExactlyTheOptionsTheCheckerAccepts(kind: String) throws {
        let dir = makeTempDir("secret")
        defer { removeTree(dir) }
        writeFile(dir + "/s", "secret-value\n", mode: 0o600)
        let type = try #require(ChannelRegistry.kind(named: kind))
        let own = try #require(ChannelKinds.kinds[kind]).filter { $0.name != ChannelKinds.caFile.name }
        func sample(_ k: ConfigKey) -> ConfigValue {
            switch k.check {
            case .url: return k.type == .stringList ? .list([.string("http://127.0.0.1:9/x")]) : .string("http://127.0.0.1:9/x")
            case .smtpServer: return .string("smtp://127.0.0.1:25")
            case .command: return .list([.string("/bin/true")])
            default: break
            }
            switch k.type {
            case .duration: return .duration(1)
            case .number: return .number(1)
            case .bool: return .bool(false)
            case .string, .stringOrList, .stringOrFile: return .string("ops@example.com")
            case .stringList: return .list([.string("/bin/true")])
            case .file: return .file(dir + "/s")
            case .block: return .block([("X-A", .string("b"))])
            case .oneOf(let words): return .string(words[0])
            }
        }
        // Of two options that stand in for each other (`url`, `urls`) only the first is given: both is an error.
        let given = own.filter { k in !own.contains { $0.name == k.alternative && $0.name < k.name } }
        let options = ChannelOptions(channel("c", kind, given.map { ($0.name, sample($0)) }))
        _ = try type.init(decoding: options)
        #expect(options.read == Set(own.map(\.name)))
    }
}
