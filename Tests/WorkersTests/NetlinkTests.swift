// rtnetlink link messages and kernel uevents: parsed from bytes recorded on a real kernel (Linux 6.18,
// Fixtures/netlink: a dump of lo and a veth pair in a namespace, then `ip link set kvb down|up`,
// `ip link set kva mtu 1400`, and `ip link add|del` of a veth for the uevents).
import Testing
import TestSupport
@testable import Workers

private func recorded(_ name: String) throws -> [UInt8] {
    try readOnce(TestPaths.fixture("netlink/" + name))
}

@Suite struct NetlinkRouteTests {
    @Test func dumpListsEveryLinkAndEnds() throws {
        let b = try parseNetlinkRoute(try recorded("dump-lo-veth.bin")[...])
        #expect(b.dumpDone)
        #expect(b.error == nil)
        let byName = Dictionary(uniqueKeysWithValues: b.links.map { ($0.name ?? "", $0) })
        #expect(byName.keys.sorted() == ["kva", "kvb", "lo"])
        // Loopback was never brought up in that namespace.
        #expect(byName["lo"]?.operstate == "down")
        #expect(byName["lo"]?.up == false)
        #expect(byName["lo"]?.mtu == 65536)
        #expect(byName["kva"]?.operstate == "up")
        #expect(byName["kva"]?.carrier == true)
        #expect(byName["kva"]?.up == true)
        #expect(byName["kva"]?.mtu == 1500)
        #expect(b.links.allSatisfy { !$0.deleted })
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        var index: Int32
        var name: String
        var operstate: String
        var carrier: Bool
        var up: Bool
        var mtu: Int64
        var testDescription: String { file }
    }

    @Test(arguments: [
        Case(file: "link-kvb-down.bin", index: 2, name: "kvb", operstate: "down", carrier: false, up: false, mtu: 1500),
        // Administratively up with carrier, before linkwatch moves operstate on.
        Case(file: "link-up.bin", index: 2, name: "kvb", operstate: "lowerlayerdown", carrier: true, up: true, mtu: 1500),
        Case(file: "link-mtu.bin", index: 3, name: "kva", operstate: "up", carrier: true, up: true, mtu: 1400),
    ])
    func changeMessages(_ c: Case) throws {
        let b = try parseNetlinkRoute(try recorded(c.file)[...])
        #expect(!b.dumpDone)
        try #require(b.links.count == 1)
        let m = b.links[0]
        #expect(m == LinkMessage(deleted: false, index: c.index, flags: m.flags, name: c.name, mtu: c.mtu, operstate: c.operstate, carrier: c.carrier))
        #expect(m.up == c.up)
    }

    @Test func truncatedOrLyingLengthsAreErrorsNotCrashes() throws {
        let good = try recorded("link-mtu.bin")
        // Cut inside the message: its length no longer fits.
        #expect(throws: NetlinkError.self) { try parseNetlinkRoute(good[0..<100]) }
        // A header that claims less than itself.
        var small = good
        small[0] = 8; small[1] = 0; small[2] = 0; small[3] = 0
        #expect(throws: NetlinkError.self) { try parseNetlinkRoute(small[...]) }
        // An attribute longer than its message.
        var attr = good
        attr[32] = 0xff; attr[33] = 0xff
        #expect(throws: NetlinkError.self) { try parseNetlinkRoute(attr[...]) }
        // Fewer bytes than a header: nothing, no error.
        #expect(try parseNetlinkRoute(good[0..<10]).links.isEmpty)
    }

    @Test func errorAndDeleteMessages() throws {
        // NLMSG_ERROR with -EPERM (-1), then RTM_DELLINK of index 7 with no attributes.
        var b: [UInt8] = [20, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]
        b += [32, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 1, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let r = try parseNetlinkRoute(b[...])
        #expect(r.error == -1)
        #expect(r.links == [LinkMessage(deleted: true, index: 7, flags: 0)])
    }

    @Test func tableAppliesChangesAndReportsOnlyWhatShdShows() throws {
        guard let monitor = LinkMonitor() else {
            Issue.record("cannot open an rtnetlink socket here (AF_NETLINK refused): the link table cannot be tested")
            return
        }
        let down = try parseNetlinkRoute(try recorded("link-kvb-down.bin")[...]).links[0]
        let up = try parseNetlinkRoute(try recorded("link-up.bin")[...]).links[0]
        var fake = down
        fake.index = 9999
        #expect(monitor.apply(fake) == true)
        #expect(monitor.link("kvb")?.operstate == "down")
        #expect(monitor.apply(fake) == false)
        var upFake = up
        upFake.index = 9999
        #expect(monitor.apply(upFake) == true)
        #expect(monitor.link("kvb")?.carrier == true)
        #expect(monitor.takeChanged().contains("kvb"))
        #expect(monitor.apply(LinkMessage(deleted: true, index: 9999, flags: 0)) == true)
        #expect(monitor.link("kvb") == nil)
        // The real dump holds at least lo.
        #expect(monitor.link("lo")?.mtu == 65536)
    }
}

@Suite struct UeventTests {
    @Test func recordedNetDeviceEvents() throws {
        let add = try #require(parseUevent(try recorded("uevent-add-net.bin")[...]))
        #expect(add.action == "add")
        #expect(add.devpath == "/devices/virtual/net/kvy")
        #expect(add.subsystem == "net")
        #expect(add.properties["INTERFACE"] == "kvy")
        #expect(UeventMonitor.functions(for: add) == ["network.interfaces"])
        let remove = try #require(parseUevent(try recorded("uevent-remove-net.bin")[...]))
        #expect(remove.action == "remove")
        #expect(UeventMonitor.functions(for: remove) == ["network.interfaces"])
        let queues = try #require(parseUevent(try recorded("uevent-add-queues.bin")[...]))
        #expect(queues.subsystem == "queues")
        #expect(UeventMonitor.functions(for: queues).isEmpty)
    }

    @Test(arguments: [
        // lib/kobject_uevent.c's format for a disk and an md array (typed from it; no block device can be made here).
        ("add@/devices/virtual/block/loop0\0ACTION=add\0DEVPATH=/devices/virtual/block/loop0\0SUBSYSTEM=block\0DEVNAME=loop0\0DEVTYPE=disk\0SEQNUM=1\0", ["disk.io"]),
        ("change@/devices/virtual/block/md0\0ACTION=change\0DEVPATH=/devices/virtual/block/md0\0SUBSYSTEM=block\0DEVNAME=md0\0SEQNUM=2\0", ["disk.io", "hardware.raid"]),
    ])
    func blockEvents(_ text: String, _ expected: [String]) throws {
        let e = try #require(parseUevent(Array(text.utf8)[...]))
        #expect(e.subsystem == "block")
        #expect(UeventMonitor.functions(for: e) == expected)
    }

    @Test(arguments: [
        "libudev\0\u{fe}\u{ed}\u{ca}\u{fe}ACTION=add\0SUBSYSTEM=net\0",  // udev's re-broadcast
        "add@/devices/x\0ACTION=add\0",                                    // no SUBSYSTEM
        "Add@/devices/x\0SUBSYSTEM=net\0",                                // not an action
        "add@devices\0SUBSYSTEM=net\0",                                   // not a path
        "",
    ])
    func refused(_ text: String) {
        #expect(parseUevent(Array(text.utf8)[...]) == nil)
    }
}
