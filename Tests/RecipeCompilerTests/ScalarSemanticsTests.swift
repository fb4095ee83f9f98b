import RecipeLanguage
import Testing

@testable import RecipeCompiler

/// The checker's constant evaluation and the compiler's folding and scalar code are one
/// definition: NaN propagates through `sign`, `min`, `max` and `clamp` in both.
@Suite struct ScalarSemanticsTests {
    static func call(_ b: Builtin, _ xs: [Double]) -> Double? {
        let args = xs.map { TypedExpr(.constant($0), .global, .none) }
        return ConstantEvaluator(hypers: []).evaluate(
            TypedExpr(.call(b, args, BuiltinOptions(), state: nil), .global, .none))
    }

    @Test func nanPropagatesThroughSignMinMaxAndClampInTheCheckerAndTheCompiler() throws {
        let nan = Double.nan
        #expect(try #require(Self.call(.sign, [nan])).isNaN)
        #expect(Scalar.unary(.sign, nan).isNaN)
        for (x, y) in [(nan, 1.0), (1.0, nan)] {
            #expect(try #require(Self.call(.min, [x, y])).isNaN)
            #expect(try #require(Self.call(.max, [x, y])).isNaN)
            #expect(Scalar.binary(.min, x, y).isNaN)
            #expect(Scalar.binary(.max, x, y).isNaN)
        }
        #expect(try #require(Self.call(.clamp, [nan, 0, 1])).isNaN)
    }

    @Test func theTwoAgreeOnOrdinaryNumbers() throws {
        for x in [-2.5, -0.0, 0.0, 3.0] {
            #expect(Self.call(.sign, [x]) == Scalar.unary(.sign, x))
            #expect(Self.call(.min, [x, 1]) == Scalar.binary(.min, x, 1))
            #expect(Self.call(.max, [x, 1]) == Scalar.binary(.max, x, 1))
        }
    }
}
