/// A usage mistake on the command line: reported as one line, exit status 2.
public struct UsageError: Error, Equatable, CustomStringConvertible {
    /// The message, lower case, naming the offending flag or value.
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A small reader over a command's arguments, in the shape of swift-argument-parser:
/// options are `--name value` or `--name=value`, flags are `--name`, the rest are positionals.
///
/// Each command declares what it reads; whatever is left unread is an error.
public struct Arguments {
    private var items: [String]
    private var consumed: [Bool]

    /// Creates a reader over `items` (the arguments after the command's name).
    public init(_ items: [String]) {
        self.items = items
        self.consumed = Array(repeating: false, count: items.count)
    }

    /// True when `--name` is present (and removes it).
    public mutating func flag(_ name: String) -> Bool {
        var found = false
        for i in items.indices where !consumed[i] && items[i] == "--\(name)" {
            consumed[i] = true
            found = true
        }
        return found
    }

    /// The value of the last `--name value` or `--name=value`, or nil when absent.
    public mutating func option(_ name: String) throws(UsageError) -> String? {
        try options(name).last
    }

    /// Every value given to a repeatable option, in order.
    public mutating func options(_ name: String) throws(UsageError) -> [String] {
        var values: [String] = []
        var i = 0
        while i < items.count {
            defer { i += 1 }
            if consumed[i] { continue }
            let item = items[i]
            if item == "--\(name)" {
                guard i + 1 < items.count, !consumed[i + 1] else {
                    throw UsageError("option '--\(name)' needs a value")
                }
                consumed[i] = true
                consumed[i + 1] = true
                values.append(items[i + 1])
                i += 1
            } else if item.hasPrefix("--\(name)=") {
                consumed[i] = true
                values.append(String(item.dropFirst(name.count + 3)))
            }
        }
        return values
    }

    /// The value of `--name` parsed as an integer within `range`, or nil when absent.
    public mutating func intOption(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(UsageError)
        -> Int?
    {
        guard let text = try option(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw UsageError(
                "option '--\(name)' expects an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return value
    }

    /// The remaining positional arguments (everything not consumed that does not start
    /// with `--`), consuming them. `--` ends option processing.
    public mutating func positionals() -> [String] {
        var result: [String] = []
        var afterDashDash = false
        for i in items.indices where !consumed[i] {
            if !afterDashDash && items[i] == "--" {
                consumed[i] = true
                afterDashDash = true
                continue
            }
            if afterDashDash || !items[i].hasPrefix("--") || items[i] == "-" {
                consumed[i] = true
                result.append(items[i])
            }
        }
        return result
    }

    /// Throws when anything was left unread, naming the first such argument.
    public func finish() throws(UsageError) {
        if let i = items.indices.first(where: { !consumed[$0] }) {
            let item = items[i]
            if item.hasPrefix("--") { throw Self.unknownOption(item) }
            throw UsageError("unexpected argument '\(item)'")
        }
    }

    /// The error for an option no command reads (`--name` or `--name=value`).
    private static func unknownOption(_ item: String) -> UsageError {
        UsageError("unknown option '\(item.split(separator: "=", maxSplits: 1)[0])'")
    }

    /// The one positional argument a command takes (`what` names it in the error). Call it
    /// after reading every option: an option left unread is reported as unknown first, since
    /// its value would otherwise be taken for a stray argument (`--format pdf`).
    public mutating func single(_ what: String) throws(UsageError) -> String {
        if let i = items.indices.first(where: { !consumed[$0] && items[$0].hasPrefix("--") && items[$0] != "--" }) {
            throw Self.unknownOption(items[i])
        }
        let rest = positionals()
        guard rest.count == 1 else {
            throw UsageError(rest.isEmpty ? "missing \(what)" : "unexpected argument '\(rest[1])'")
        }
        return rest[0]
    }

    /// The value of a one-letter option (`-o FILE`), when given.
    public mutating func shortOption(_ letter: Character) throws(UsageError) -> String? {
        var value: String?
        var i = 0
        while i < items.count {
            if !consumed[i] && items[i] == "-\(letter)" {
                guard i + 1 < items.count, !consumed[i + 1] else {
                    throw UsageError("option '-\(letter)' needs a value")
                }
                consumed[i] = true
                consumed[i + 1] = true
                value = items[i + 1]
                i += 1
            }
            i += 1
        }
        return value
    }
}
