// The command-line table: one declaration per command and option drives parsing, --help, usage errors and completions.
import Reports
import Rules

/// What an option's (or an operand's) value is: how it is converted and checked, the placeholder `--help` shows,
/// and what a shell completes.
public enum ValueKind: Sendable {
    /// Free text (a name, a level); nothing to complete.
    case text(String)
    /// A file path; shells complete files.
    case file(String)
    /// A folder path; shells complete folders.
    case directory(String)
    /// One of these words; shells complete them.
    case choice(String, [String])
    /// A duration in the rule language's syntax (`10s`, `1h30m`, `1d`; a bare number is seconds), non-negative,
    /// above 0 if `positive`, at most `max` seconds.
    case duration(String, positive: Bool, max: Double?)
    /// A size in the rule language's syntax (`512MB`, `1GiB`; a bare number is bytes).
    case size(String)
    /// A whole number in `range`.
    case integer(String, ClosedRange<Int>)
    /// An RFC 3339 time.
    case timestamp(String)

    /// The placeholder in `--help` and usage lines.
    public var placeholder: String {
        switch self {
        case .text(let p), .file(let p), .directory(let p), .choice(let p, _), .duration(let p, _, _), .size(let p),
             .integer(let p, _), .timestamp(let p):
            return p
        }
    }

    /// The text converted and checked; the thrown text says what was expected.
    func convert(_ text: String) throws -> ArgumentValue {
        switch self {
        case .text, .file, .directory:
            return .text(text)
        case .choice(_, let words):
            guard words.contains(text) else { throw LiteralError(description: "expected " + Self.list(words)) }
            return .text(text)
        case .duration(_, let positive, let max):
            let v = try Literal.duration(text)
            if positive && v <= 0 { throw LiteralError(description: "expected a positive duration") }
            if let max, v > max { throw LiteralError(description: "expected a duration of at most \(Self.seconds(max))") }
            return .number(v)
        case .size:
            return .number(try Literal.size(text))
        case .integer(_, let range):
            guard let n = Int(text), range.contains(n) else {
                throw LiteralError(description: range.upperBound == Int.max
                    ? "expected a whole number of at least \(range.lowerBound)"
                    : "expected a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return .number(Double(n))
        case .timestamp:
            guard let t = Timestamp(rfc3339: text) else { throw LiteralError(description: "expected an RFC 3339 time such as 2026-01-05T00:00:00Z") }
            return .time(t)
        }
    }

    static func list(_ words: [String]) -> String {
        words.count < 2 ? words.joined() : words.dropLast().joined(separator: ", ") + " or " + words.last!
    }

    static func seconds(_ v: Double) -> String {
        let s = v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
        return s + "s"
    }
}

/// One option of a command: `--name`, its other spellings, its value (nil for a flag) and its help.
public struct OptionSpec: Sendable {
    /// Every spelling; the first is the key that `ParsedArguments` answers to.
    public let names: [String]
    public let value: ValueKind?
    /// The help text; further lines (after "\n") are indented under the first.
    public let help: String
    /// May be given more than once and every value is kept (otherwise the last one wins).
    public let repeatable: Bool

    public var name: String { names[0] }

    public static func flag(_ names: String..., help: String) -> OptionSpec {
        OptionSpec(names: names, value: nil, help: help, repeatable: false)
    }

    public static func option(_ names: String..., value: ValueKind, repeatable: Bool = false, help: String) -> OptionSpec {
        OptionSpec(names: names, value: value, help: help, repeatable: repeatable)
    }

    /// `-f, --format text|json|github`: short spellings first.
    var label: String {
        let sorted = names.filter { !$0.hasPrefix("--") } + names.filter { $0.hasPrefix("--") }
        return sorted.joined(separator: ", ") + (value.map { " " + $0.placeholder } ?? "")
    }

    /// `-h` and `--help`, which every command answers.
    static let help = OptionSpec.flag("-h", "--help", help: "show this help")
}

/// The operands of a command (the words that are not options).
public struct OperandSpec: Sendable {
    /// As shown in usage lines and errors: `PATH…`, `CHANNEL`.
    public let name: String
    public let value: ValueKind
    public let count: ClosedRange<Int>
    /// What a usage error says when too few are given.
    public let missing: String

    public init(_ name: String, _ value: ValueKind, count: ClosedRange<Int>, missing: String? = nil) {
        self.name = name
        self.value = value
        self.count = count
        self.missing = missing ?? "missing \(name)"
    }
}

/// One command or subcommand: its name, help texts, options, operands and subcommands, and what it runs.
public struct CommandSpec: Sendable {
    public let name: String
    /// Other spellings accepted in place of the name (`--check-rules`).
    public let aliases: [String]
    /// How the parent's command list shows it, if not by its name.
    public let shownAs: String?
    /// What follows the command in its usage line: `[options] [PATH…]`.
    public let synopsis: String
    /// One line in the parent's command list and in shell completions.
    public let abstract: String
    /// Shown in `shd --help`'s list (`help` and `version` are named in its last line instead).
    public let listed: Bool
    /// Paragraphs of `--help` before the options.
    public let discussion: String
    /// Paragraphs of `--help` after the options.
    public let footer: String
    public let options: [OptionSpec]
    public let operands: OperandSpec?
    public let subcommands: [CommandSpec]
    /// Runs the parsed command and returns the exit status; nil for a command that only groups subcommands.
    public let run: (@Sendable (ParsedArguments) throws -> Int32)?

    public init(_ name: String, aliases: [String] = [], shownAs: String? = nil, synopsis: String = "[options]",
                abstract: String, listed: Bool = true, discussion: String = "", footer: String = "", options: [OptionSpec] = [],
                operands: OperandSpec? = nil, subcommands: [CommandSpec] = [],
                run: (@Sendable (ParsedArguments) throws -> Int32)? = nil)
    {
        self.name = name
        self.aliases = aliases
        self.shownAs = shownAs
        self.synopsis = synopsis
        self.abstract = abstract
        self.listed = listed
        self.discussion = discussion
        self.footer = footer
        self.options = options
        self.operands = operands
        self.subcommands = subcommands
        self.run = run
    }

    /// The declared options and `-h`/`--help`.
    public var allOptions: [OptionSpec] { options + [OptionSpec.help] }

    func option(named n: String) -> OptionSpec? { allOptions.first { $0.names.contains(n) } }

    func subcommand(named n: String) -> CommandSpec? { subcommands.first { $0.name == n || $0.aliases.contains(n) } }

    /// The command at `path` below this one (`["notify", "test"]`).
    public func find(_ path: [String]) -> CommandSpec? {
        var c = self
        for n in path {
            guard let s = c.subcommand(named: n) else { return nil }
            c = s
        }
        return c
    }
}

/// A parsed option value.
public enum ArgumentValue: Sendable, Equatable {
    case present
    case text(String)
    case number(Double)
    case time(Timestamp)
}

/// What the command line said to one command: its options (by their first name) and its operands.
public struct ParsedArguments: Sendable, Equatable {
    /// The command's names from the top (`["notify", "test"]`).
    public var path: [String]
    public var values: [String: [ArgumentValue]] = [:]
    public var operands: [String] = []
    /// The options' keys in the order given, for options that undo each other (`--color`, `--no-color`).
    public var order: [String] = []

    public init(path: [String], values: [String: [ArgumentValue]] = [:], operands: [String] = []) {
        self.path = path
        self.values = values
        self.operands = operands
    }

    public func flag(_ name: String) -> Bool { values[name] != nil }

    /// Which of `names` came last on the command line, if any.
    public func last(of names: [String]) -> String? { order.last { names.contains($0) } }

    public func texts(_ name: String) -> [String] {
        (values[name] ?? []).compactMap { if case .text(let s) = $0 { s } else { nil } }
    }

    /// The last value given (a repeated single-value option: the last one wins).
    public func text(_ name: String) -> String? { texts(name).last }

    public func number(_ name: String) -> Double? {
        (values[name] ?? []).compactMap { if case .number(let n) = $0 { n } else { nil } }.last
    }

    public func time(_ name: String) -> Timestamp? {
        (values[name] ?? []).compactMap { if case .time(let t) = $0 { t } else { nil } }.last
    }
}

/// A command line the table does not accept. Kept structured until `description` renders the one line every
/// command prints: `shd run: unknown option '--x'; see shd run --help`.
public struct CommandLineError: Error, Equatable, CustomStringConvertible {
    public enum Code: Equatable, Sendable {
        case unknownOption(String)
        case missingValue(option: String, placeholder: String)
        case unexpectedValue(option: String)
        case badValue(option: String, value: String, reason: String)
        case unknownCommand(String)
        case missingCommand([String])
        case unexpectedOperand(String)
        case missingOperand(String)
    }

    /// The command's names from the top; empty for `shd` itself.
    public var path: [String]
    public var code: Code

    public var message: String {
        switch code {
        case .unknownOption(let o): return "unknown option '\(o)'"
        case .missingValue(let o, let p): return "option '\(o)' needs a value (\(p))"
        case .unexpectedValue(let o): return "option '\(o)' takes no value"
        case .badValue(let o, let v, let r): return "invalid value '\(v)' for '\(o)': \(r)"
        case .unknownCommand(let c): return "unknown command '\(c)'"
        case .missingCommand(let names): return "missing subcommand (\(names.joined(separator: ", ")))"
        case .unexpectedOperand(let a): return "unexpected argument '\(a)'"
        case .missingOperand(let m): return m
        }
    }

    public var description: String {
        let cmd = (["shd"] + path).joined(separator: " ")
        return "\(cmd): \(message); see \(cmd) --help"
    }
}

/// What a command line asks for.
public enum Invocation: Equatable, Sendable {
    /// Run the command at `path` with these arguments.
    case run(ParsedArguments)
    /// Print the help of the command at `path` (`-h`/`--help` given).
    case help([String])
}

extension CommandSpec {
    /// Parses `arguments` (without the program name) against this table. Options take `--name value` or
    /// `--name=value` and may come between operands; `--` ends the options; `-h`/`--help` anywhere before it
    /// asks for help. Throws `CommandLineError`.
    public func parse(_ arguments: [String]) throws -> Invocation {
        var command = self
        var path: [String] = []
        var i = 0
        // Down the subcommands first: `shd notify test …`.
        while !command.subcommands.isEmpty {
            guard i < arguments.count else {
                if command.run != nil { break }
                throw CommandLineError(path: path, code: .missingCommand(command.subcommands.map(\.name)))
            }
            let a = arguments[i]
            if a == "-h" || a == "--help" { return .help(path) }
            if let s = command.subcommand(named: a) {
                command = s
                path.append(s.name)
                i += 1
                continue
            }
            if command.run != nil { break }
            throw CommandLineError(path: path, code: a.hasPrefix("-") && a.count > 1 ? .unknownOption(a) : .unknownCommand(a))
        }
        var parsed = ParsedArguments(path: path)
        var endOfOptions = false
        while i < arguments.count {
            let a = arguments[i]
            i += 1
            if endOfOptions || !a.hasPrefix("-") || a == "-" {
                parsed.operands.append(a)
                continue
            }
            if a == "--" {
                endOfOptions = true
                continue
            }
            var name = a
            var inline: String?
            if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {
                name = String(a[..<eq])
                inline = String(a[a.index(after: eq)...])
            }
            guard let option = command.option(named: name) else {
                throw CommandLineError(path: path, code: .unknownOption(name))
            }
            if option.name == OptionSpec.help.name {
                guard inline == nil else { throw CommandLineError(path: path, code: .unexpectedValue(option: name)) }
                return .help(path)
            }
            guard let kind = option.value else {
                guard inline == nil else { throw CommandLineError(path: path, code: .unexpectedValue(option: name)) }
                parsed.values[option.name, default: []].append(.present)
                parsed.order.append(option.name)
                continue
            }
            let text: String
            if let inline {
                text = inline
            } else if i < arguments.count, !(arguments[i].hasPrefix("-") && arguments[i].count > 1) {
                text = arguments[i]
                i += 1
            } else {
                // Also when the next word is an option: `--config --rules x` would otherwise read a file "--rules".
                throw CommandLineError(path: path, code: .missingValue(option: name, placeholder: kind.placeholder))
            }
            let value: ArgumentValue
            do { value = try kind.convert(text) } catch {
                throw CommandLineError(path: path, code: .badValue(option: name, value: text, reason: "\(error)"))
            }
            parsed.order.append(option.name)
            if option.repeatable {
                parsed.values[option.name, default: []].append(value)
            } else {
                parsed.values[option.name] = [value]
            }
        }
        let allowed = command.operands?.count ?? 0...0
        if parsed.operands.count > allowed.upperBound {
            throw CommandLineError(path: path, code: .unexpectedOperand(parsed.operands[allowed.upperBound]))
        }
        if let spec = command.operands {
            if parsed.operands.count < allowed.lowerBound { throw CommandLineError(path: path, code: .missingOperand(spec.missing)) }
            for o in parsed.operands {
                do { _ = try spec.value.convert(o) } catch {
                    throw CommandLineError(path: path, code: .badValue(option: spec.name, value: o, reason: "\(error)"))
                }
            }
        }
        return .run(parsed)
    }
}
