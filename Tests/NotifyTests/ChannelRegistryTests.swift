// The one table of channel kinds in Notify against the checker's table of their options in Rules.
@testable import Notify
import Rules
import Testing

@Suite struct ChannelRegistryTests {
    /// A kind the checker accepts but Notify cannot build (or the reverse) would pass `check-rules` and fail at start.
    @Test func everyKindTheCheckerKnowsIsOneTypeAndNoOther() {
        #expect(ChannelRegistry.kinds.map { $0.name }.sorted() == ChannelKinds.kinds.keys.sorted())
        #expect(Set(ChannelRegistry.kinds.map { $0.name }).count == ChannelRegistry.kinds.count, "no name twice")
    }

    @Test func anUnknownKindIsRefusedNamingIt() {
        #expect(ChannelRegistry.kind(named: "pager") == nil)
        #expect(throws: NotifyError.self) { try ChannelConfig(channel("p", "pager", [])) }
        let e = NotifyError(.unknownKind(channel: "p", kind: "pager"))
        #expect(e.description == "channel p: unknown kind `pager`")
    }
}
