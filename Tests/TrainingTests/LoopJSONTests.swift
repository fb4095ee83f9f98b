import Testing

@testable import Training

@Suite struct LoopJSONTests {
    @Test func writtenTextParsesBackToTheSameValue() throws {
        let value = JSON.object([
            ("step", .int(UInt64.max)),
            ("loss", .float(2.3025851)),
            ("tiny", .double(1e-05)),
            ("name", .string("tab\there \"quoted\" \\ é ✓ \u{1}")),
            ("list", .array([.null, .bool(true), .bool(false), .array([]), .object([])])),
        ])
        #expect(try JSON.parse(value.compact) == value)
        #expect(try JSON.parse(value.pretty) == value)
        #expect(try JSON.parse(value.compact)["step"]?.uint64Value == UInt64.max)
        #expect(try JSON.parse(value.compact)["loss"]?.floatValue == 2.3025851)
    }

    @Test func compactAndPrettyForms() {
        let value = JSON.object([("a", .array([.int(1), .int(2)])), ("b", .object([("c", .null)]))])
        #expect(value.compact == #"{"a":[1,2],"b":{"c":null}}"#)
        #expect(value.pretty == "{\n  \"a\": [1, 2],\n  \"b\": {\n    \"c\": null\n  }\n}")
        #expect(JSON.float(.nan) == .null && JSON.double(.infinity) == .null)
    }

    @Test func escapesAndSurrogatePairsAreRead() throws {
        #expect(try JSON.parse(#""a\u00e9\ud83d\ude00\n\/""#) == .string("aé😀\n/"))
    }

    @Test(arguments: [
        ("", "json: expected a value, found the end at byte 0"),
        ("{\"a\" 1}", "json: expected ':' at byte 5"),
        ("[1,]", "json: expected a value at byte 3"),
        ("\"abc", "json: unterminated string at byte 4"),
        ("1 2", "json: unexpected text after the value at byte 2"),
        ("-", "json: expected a value at byte 0"),
        ("1.", "json: expected digits after '.' at byte 2"),
        (String(repeating: "[", count: 100), "json: too many nested values (limit is 64) at byte 64"),
    ])
    func badTextIsRejectedWithItsPosition(text: String, message: String) {
        #expect(throws: JSON.ParseError.self) { try JSON.parse(text) }
        do {
            _ = try JSON.parse(text)
        } catch {
            #expect("\(error)" == message)
        }
    }
}
