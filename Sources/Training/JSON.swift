/// A JSON value for the run folder's files (`config.json`, `metrics.jsonl`, checkpoint
/// headers), written and read by hand: no third-party packages, keys in a fixed order, and
/// numbers kept as their exact text so 64-bit integers and `Float` losses round-trip.
public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number's JSON text, exactly as written or read (`12`, `2.3025851`, `1e-05`).
    case number(String)
    case string(String)
    case array([JSON])
    /// Keys keep their order, so output is stable and reads in a sensible order.
    case object([(String, JSON)])

    public static func == (l: JSON, r: JSON) -> Bool {
        switch (l, r) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    // MARK: Building

    /// An integer, exactly.
    public static func int<T: BinaryInteger>(_ value: T) -> JSON { .number(String(value)) }

    /// A `Float` in its shortest round-tripping form; null when not finite (JSON has no NaN).
    public static func float(_ value: Float) -> JSON { value.isFinite ? .number(value.description) : .null }

    /// A number as a person would write it: whole values without a fraction (`64`, not
    /// `64.0`), others in their shortest round-tripping form; null when not finite.
    public static func value(_ x: Double) -> JSON {
        guard x.isFinite else { return .null }
        if x == x.rounded(), Swift.abs(x) < 1e15 { return .number(String(Int64(x))) }
        return .number(x.description)
    }

    /// A `Double` in its shortest round-tripping form; null when not finite.
    public static func double(_ value: Double) -> JSON { value.isFinite ? .number(value.description) : .null }

    // MARK: Reading

    /// The value under `key` of an object (nil for other values or a missing key).
    subscript(key: String) -> JSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    public var intValue: Int? { if case .number(let t) = self { Int(t) } else { nil } }
    public var uint64Value: UInt64? { if case .number(let t) = self { UInt64(t) } else { nil } }
    public var doubleValue: Double? { if case .number(let t) = self { Double(t) } else { nil } }
    public var floatValue: Float? { if case .number(let t) = self { Float(t) } else { nil } }
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var arrayValue: [JSON]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: [(String, JSON)]? { if case .object(let o) = self { o } else { nil } }

    // MARK: Writing

    /// Compact JSON on one line (for `metrics.jsonl` and checkpoint headers).
    public var compact: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let t): return t
        case .string(let s): return JSON.quote(s)
        case .array(let items): return "[" + items.map(\.compact).joined(separator: ",") + "]"
        case .object(let pairs):
            return "{" + pairs.map { JSON.quote($0.0) + ":" + $0.1.compact }.joined(separator: ",") + "}"
        }
    }

    /// Indented JSON for files people read (`config.json`); arrays of plain values stay on one line.
    public var pretty: String { pretty(indent: "") }

    private func pretty(indent: String) -> String {
        let inner = indent + "  "
        switch self {
        case .array(let items) where items.contains(where: \.isContainer):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + $0.pretty(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let pairs):
            if pairs.isEmpty { return "{}" }
            let lines = pairs.map { inner + JSON.quote($0.0) + ": " + $0.1.pretty(indent: inner) }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let items):
            return "[" + items.map(\.compact).joined(separator: ", ") + "]"
        default:
            return compact
        }
    }

    private var isContainer: Bool {
        switch self {
        case .array, .object: return true
        default: return false
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

// MARK: - Parsing

extension JSON {
    /// Why a text is not JSON, with the byte offset where reading stopped.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var offset: Int
        public var message: String
        public var description: String { "json: \(message) at byte \(offset)" }
    }

    /// Parses one JSON value; only whitespace may follow it.
    public static func parse(_ text: String) throws(ParseError) -> JSON {
        var reader = Reader(bytes: Array(text.utf8))
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.index == reader.bytes.count else { throw reader.error("unexpected text after the value") }
        return value
    }

    /// A recursive-descent reader over UTF-8 bytes (RFC 8259).
    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        /// Deep enough for any file optlang writes; a named limit instead of a stack overflow.
        static let maximumDepth = 64

        func error(_ message: String) -> ParseError { ParseError(offset: index, message: message) }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        /// value -> object | array | string | number | 'true' | 'false' | 'null'
        mutating func value(depth: Int) throws(ParseError) -> JSON {
            guard depth < Reader.maximumDepth else { throw error("too many nested values (limit is 64)") }
            skipSpace()
            guard index < bytes.count else { throw error("expected a value, found the end") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            default: return try number()
            }
        }

        /// object -> '{' (string ':' value (',' string ':' value)*)? '}'
        mutating func object(depth: Int) throws(ParseError) -> JSON {
            index += 1
            var pairs: [(String, JSON)] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(pairs)
            }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try string()
                skipSpace()
                try expect(":")
                pairs.append((key, try value(depth: depth + 1)))
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                try expect("}")
                return .object(pairs)
            }
        }

        /// array -> '[' (value (',' value)*)? ']'
        mutating func array(depth: Int) throws(ParseError) -> JSON {
            index += 1
            var items: [JSON] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            while true {
                items.append(try value(depth: depth + 1))
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                try expect("]")
                return .array(items)
            }
        }

        /// string -> '"' (char | escape)* '"'
        mutating func string() throws(ParseError) -> String {
            index += 1
            var out: [UInt8] = []
            while index < bytes.count {
                let b = bytes[index]
                index += 1
                switch b {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { break }
                    let e = bytes[index]
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        // A surrogate pair spells one scalar outside the basic plane.
                        if (0xD800..<0xDC00).contains(code), index + 1 < bytes.count,
                            bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                        {
                            index += 2
                            let low = try hex4()
                            code = 0x10000 + ((code - 0xD800) << 10) + (low &- 0xDC00)
                        }
                        let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                        out.append(contentsOf: Array(String(scalar).utf8))
                    default:
                        index -= 1
                        throw error("unknown escape")
                    }
                case _ where b < 0x20:
                    index -= 1
                    throw error("control character in a string")
                default:
                    out.append(b)
                }
            }
            throw error("unterminated string")
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard index + 4 <= bytes.count,
                let v = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16)
            else { throw error("expected four hex digits") }
            index += 4
            return v
        }

        /// number -> '-'? digits ('.' digits)? ([eE] [+-]? digits)?
        mutating func number() throws(ParseError) -> JSON {
            let start = index
            func digits(_ r: inout Reader) -> Int {
                let s = r.index
                while r.index < r.bytes.count, (0x30...0x39).contains(r.bytes[r.index]) { r.index += 1 }
                return r.index - s
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else {
                index = start
                throw error("expected a value")
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw error("expected digits after '.'") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard digits(&self) > 0 else { throw error("expected digits in the exponent") }
            }
            return .number(String(decoding: bytes[start..<index], as: UTF8.self))
        }

        mutating func literal(_ word: String) throws(ParseError) {
            let w = Array(word.utf8)
            guard index + w.count <= bytes.count, Array(bytes[index..<(index + w.count)]) == w else {
                throw error("expected a value")
            }
            index += w.count
        }

        mutating func expect(_ c: Character) throws(ParseError) {
            guard index < bytes.count, bytes[index] == c.asciiValue! else { throw error("expected '\(c)'") }
            index += 1
        }
    }
}
