// A failed unit's journal lines as its alert shows them: one line each, bounded.
import Testing
@testable import Workers

@Suite struct UnitJournalTests {
    @Test(arguments: [
        ("nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)", "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)"),
        ("Traceback (most recent call last):\n  File \"/srv/app.py\", line 3", "Traceback (most recent call last):   File \"/srv/app.py\", line 3"),
        ("tab\there\u{7F}", "tab here "),
        ("", ""),
    ])
    func messagesAreOneLine(_ message: String, _ shown: String) {
        #expect(UnitJournal.clipped(message) == shown)
    }

    @Test func longMessagesAreCutOnACharacterWithAnEllipsis() {
        let long = String(repeating: "é", count: 400)  // 2 bytes each
        let cut = UnitJournal.clipped(long)
        #expect(cut.hasSuffix("…"))
        #expect(cut.utf8.count <= UnitJournal.lineBytes)
        #expect(cut.dropLast().allSatisfy { $0 == "é" })
        #expect(UnitJournal.clipped(String(repeating: "a", count: UnitJournal.lineBytes - 3)).utf8.count == UnitJournal.lineBytes - 3)
    }
}
