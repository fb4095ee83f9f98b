import Testing

@testable import Training

@Suite struct ModelConfigTests {
    @Test func presetsHaveTheDocumentedSizes() throws {
        let tiny = try ModelConfig.parse("tiny")
        let small = try ModelConfig.parse("small")
        #expect(tiny.architecture == .gpt && small.architecture == .gpt)
        #expect([tiny.d, tiny.layers, tiny.heads, tiny.context, tiny.batch] == [128, 4, 4, 128, 16])
        #expect([small.d, small.layers, small.heads, small.context, small.batch] == [256, 6, 8, 256, 8])
    }

    @Test func overridesChangeOnlyTheirFields() throws {
        let c = try ModelConfig.parse("tiny,d=192,layers=6,arch=llama")
        #expect(c.d == 192 && c.layers == 6 && c.heads == 4 && c.architecture == .llama)
    }

    @Test func badSpecificationsNameTheProblem() {
        #expect(throws: ModelConfig.SpecError(message: "unknown model preset 'huge' (presets: tiny, small)")) {
            try ModelConfig.parse("huge")
        }
        #expect(throws: ModelConfig.SpecError(message: "d (130) must be a multiple of heads (4)")) {
            try ModelConfig.parse("tiny,d=130")
        }
        #expect(
            throws: ModelConfig.SpecError(
                message: "unknown model field 'width' (fields: arch, d, layers, heads, context, batch)")
        ) {
            try ModelConfig.parse("tiny,width=3")
        }
    }
}
