// Fuzz target: what the kernel pushes on netlink (parseNetlinkRoute for rtnetlink link messages, parseUevent for
// kobject uevents; Sources/Workers/Netlink.swift), the bytes of one recv. Any bytes must parse or be refused
// without trapping; a link's operstate is one of the names sysfs prints; a uevent that parses has a lowercase action,
// a devpath from the root and its SUBSYSTEM among its properties. Seeds: the captures of Tests/WorkersTests/Fixtures/netlink.
@testable import Workers

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNetlink(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let batch = try? parseNetlinkRoute(bytes[...]) {
        for link in batch.links {
            if let s = link.operstate { precondition(operstateNames.contains(s), "operstate \(s) is not a sysfs name") }
        }
    }
    // The same bytes from an odd offset: slices whose indices do not start at zero.
    if size > 1 { _ = try? parseNetlinkRoute(bytes[1...]) }
    if let u = parseUevent(bytes[...]) {
        precondition(!u.action.isEmpty && u.action.utf8.allSatisfy { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") })
        precondition(u.devpath.hasPrefix("/"))
        precondition(u.properties["SUBSYSTEM"] == u.subsystem)
    }
    return 0
}
