// The typed result of loading shd.conf and rules.d: settings, channel declarations, rules.
import Reports

/// A value written in a `set` statement or a channel block.
public enum ConfigValue: Sendable, Equatable {
    case string(String)
    case number(Double)
    /// A duration in seconds (`5m` → 300).
    case duration(Double)
    case bool(Bool)
    case list([ConfigValue])
    /// `file "/etc/shd/secrets/x"`: the value is read from the file when the channel is built.
    case file(String)
    /// `{ key value … }` (e.g. `headers { "X-Team" "ops" }`).
    case block([(String, ConfigValue)])

    public static func == (a: ConfigValue, b: ConfigValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)), (.file(let x), .file(let y)): return x == y
        case (.number(let x), .number(let y)), (.duration(let x), .duration(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.list(let x), .list(let y)): return x == y
        case (.block(let x), .block(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var numberValue: Double? {
        switch self {
        case .number(let d), .duration(let d): return d
        default: return nil
        }
    }
}

/// A place in a source file (1-based line and column).
public struct SourceLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
    public var description: String { "\(file):\(line):\(column)" }
}

/// `channel NAME KIND { key value … }` after checking.
public struct ChannelDeclaration: Sendable, Equatable {
    public var name: String
    public var kind: String
    /// Options in source order; keys are those of `ChannelKinds.options(for: kind)` (Settings.swift).
    public var options: [(String, ConfigValue)]
    public var location: SourceLocation

    public init(name: String, kind: String, options: [(String, ConfigValue)], location: SourceLocation) {
        self.name = name
        self.kind = kind
        self.options = options
        self.location = location
    }

    public subscript(key: String) -> ConfigValue? { options.last { $0.0 == key }?.1 }

    public static func == (a: ChannelDeclaration, b: ChannelDeclaration) -> Bool {
        a.name == b.name && a.kind == b.kind && a.location == b.location && a.options.count == b.options.count
            && zip(a.options, b.options).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}
