import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Fused passes compiled to machine code: the slot code of every pass written as one Swift
/// loop (registers become local SIMD values, so nothing makes a round trip through memory
/// between instructions), compiled by the toolchain's `swiftc` into a shared library,
/// cached by the source's hash and this CPU, and loaded with `dlopen`.
///
/// The generated loop performs the same operations on the same operands in the same order
/// as the interpreter (``FusedKernel``), so results are bit-identical. The cache key is the
/// source, the CPU and the compiler's version. A pass the generator
/// does not cover (an input per row or per column), a missing `swiftc` or a failed build
/// leaves the interpreter in charge. Measured on the one-thread AdamW step of `small`, the
/// interpreter took 1.56× the hand-written loop; a loop of this form, 0.89–1.08×.
enum NativeKernels {
    /// `kernel(inputs, scalars, outputs, start, end)`: elements `start..<end` of a flat pass.
    typealias Function =
        @convention(c) (
            UnsafePointer<UnsafePointer<Float>>, UnsafePointer<Float>, UnsafePointer<UnsafeMutablePointer<Float>>, Int,
            Int
        ) -> Void

    /// Where libraries are cached: `OPTLANG_KERNEL_CACHE`, else `~/.cache/optlang/kernels`.
    static var cacheFolder: URL {
        if let path = ProcessInfo.processInfo.environment["OPTLANG_KERNEL_CACHE"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/optlang/kernels")
    }

    /// Compiles (or finds in the cache) one library for `kernels` and returns each kernel's
    /// function, nil for those left to the interpreter. Never throws: a failure is a slower
    /// step, reported once through `warn`.
    static func load(_ kernels: [FusedKernel], cache: URL? = nil, warn: (String) -> Void = { _ in }) -> [Function?] {
        let sources = kernels.enumerated().map { KernelSource.function($1, symbol: "optlang_pass_\($0)") }
        if sources.allSatisfy({ $0 == nil }) { return kernels.map { _ in nil } }
        let text = KernelSource.prelude + sources.compactMap { $0 }.joined(separator: "\n")
        let key = String(stableHash(text + cpuSignature + compilerVersion), radix: 16)
        let folder = cache ?? cacheFolder
        let library = folder.appendingPathComponent("passes-\(key).so")
        if !FileManager.default.fileExists(atPath: library.path) {
            do {
                try build(text, into: library, folder: folder, key: key)
            } catch {
                warn("fused passes run interpreted: \(error)")
                return kernels.map { _ in nil }
            }
        }
        guard let handle = dlopen(library.path, RTLD_NOW | RTLD_LOCAL) else {
            warn("fused passes run interpreted: cannot load \(library.path)")
            return kernels.map { _ in nil }
        }
        return sources.enumerated().map { index, source in
            guard source != nil, let symbol = dlsym(handle, "optlang_pass_\(index)") else { return nil }
            return unsafeBitCast(symbol, to: Function.self)
        }
    }

    /// Compiles the passes of `regions` into one library and switches each region whose
    /// pass compiled to it; returns how many did.
    @discardableResult
    static func attach(_ regions: [CompiledRegion], cache: URL? = nil, warn: (String) -> Void) -> Int {
        let functions = load(regions.map(\.kernel), cache: cache, warn: warn)
        for (region, function) in zip(regions, functions) { region.native = function }
        return functions.compactMap { $0 }.count
    }

    struct BuildError: Error, CustomStringConvertible {
        var description: String
    }

    /// Writes the source and runs `swiftc`; the library appears under its final name only
    /// when complete, so concurrent runs never load half a file.
    static func build(_ text: String, into library: URL, folder: URL, key: String) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let unique = "\(key)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        let source = folder.appendingPathComponent("passes-\(unique).swift")
        let temporary = folder.appendingPathComponent("passes-\(unique).so")
        try text.write(to: source, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: source) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "swiftc", "-O", "-target-cpu", "native", "-parse-as-library", "-emit-library", "-module-name",
            "OptlangPasses", source.path, "-o", temporary.path,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { throw BuildError(description: "cannot start swiftc (\(error))") }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            let first = output.split(separator: "\n").first.map(String.init) ?? "status \(process.terminationStatus)"
            throw BuildError(description: "swiftc failed: \(first)")
        }
        if rename(temporary.path, library.path) != 0 {
            try? FileManager.default.removeItem(at: temporary)
            if !FileManager.default.fileExists(atPath: library.path) {
                throw BuildError(description: "cannot write \(library.path)")
            }
        }
    }

    /// `swiftc --version`: Swift has no stable binary interface on Linux, so a library is
    /// only reused with the compiler that built it.
    static let compilerVersion: String = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swiftc", "--version"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = Pipe()
        guard (try? process.run()) != nil else { return "none" }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return output
    }()

    /// The CPU the library is built for (`-target-cpu native`): model and feature flags.
    static let cpuSignature: String = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("model name") || $0.hasPrefix("flags") }
        return lines.prefix(2).joined(separator: "\n")
    }()

    /// FNV-1a, 64 bits: the same key for the same text in every process.
    static func stableHash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
}

/// The Swift source of fused passes, written from their slot code.
enum KernelSource {
    /// Helpers with the interpreter's exact semantics (``Vector``).
    static let prelude = """
        import Foundation
        typealias V = SIMD16<Float>
        @inline(__always) func ld(_ p: UnsafePointer<Float>, _ i: Int) -> V { UnsafeRawPointer(p + i).loadUnaligned(as: V.self) }
        @inline(__always) func st(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) { UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V.self) }
        @inline(__always) func vabs(_ x: V) -> V { x.replacing(with: -x, where: x .< 0) }
        @inline(__always) func vsign(_ x: V) -> V {
            var s = V(repeating: 0)
            s.replace(with: 1, where: x .> 0)
            s.replace(with: -1, where: x .< 0)
            s.replace(with: x, where: x .!= x)
            return s
        }
        @inline(__always) func vnot(_ x: V) -> V { V(repeating: 0).replacing(with: 1, where: x .== 0) }
        @inline(__always) func vexp(_ x: V) -> V { var r = V(); for l in 0..<16 { r[l] = Foundation.exp(x[l]) }; return r }
        @inline(__always) func vlog(_ x: V) -> V { var r = V(); for l in 0..<16 { r[l] = Foundation.log(x[l]) }; return r }
        @inline(__always) func vpow(_ x: V, _ y: V) -> V { var r = V(); for l in 0..<16 { r[l] = Foundation.pow(x[l], y[l]) }; return r }
        @inline(__always) func vmin(_ x: V, _ y: V) -> V {
            var m = x.replacing(with: y, where: y .< x)
            m.replace(with: x + y, where: (x .!= x) .| (y .!= y))
            return m
        }
        @inline(__always) func vmax(_ x: V, _ y: V) -> V {
            var m = x.replacing(with: y, where: y .> x)
            m.replace(with: x + y, where: (x .!= x) .| (y .!= y))
            return m
        }
        @inline(__always) func vbool(_ c: SIMDMask<SIMD16<Int32>>) -> V { V(repeating: 0).replacing(with: 1, where: c) }

        """

    /// One pass as a C-callable function, or nil when an input is not laid out like the pass.
    static func function(_ kernel: FusedKernel, symbol: String) -> String? {
        guard kernel.inputLayouts.allSatisfy({ $0 == .same }) else { return nil }
        let registers = kernel.registers
        let inputs = kernel.inputLayouts.count
        let outputs = kernel.instructions.reduce(0) { count, instruction in
            if case .store(_, let output) = instruction { return max(count, output + 1) }
            return count
        }
        let scalars = kernel.instructions.reduce(kernel.broadcastScalars.max().map { $0 + 1 } ?? 0) { count, i in
            max(count, scalarIndices(i).max().map { $0 + 1 } ?? 0)
        }
        var lines = [
            "@_cdecl(\"\(symbol)\")",
            "public func \(symbol)(_ inputs: UnsafePointer<UnsafePointer<Float>>, _ scalars: UnsafePointer<Float>, "
                + "_ outputs: UnsafePointer<UnsafeMutablePointer<Float>>, _ start: Int, _ end: Int) {",
        ]
        for k in 0..<inputs { lines.append("    let x\(k) = inputs[\(k)]") }
        for k in 0..<outputs { lines.append("    let o\(k) = outputs[\(k)]") }
        for k in 0..<scalars { lines.append("    let s\(k) = V(repeating: scalars[\(k)])") }
        for (k, s) in kernel.broadcastScalars.enumerated() { lines.append("    let b\(k) = s\(s)") }
        if registers > 0 {
            lines.append("    var " + (0..<registers).map { "r\($0) = V()" }.joined(separator: ", "))
        }
        // Whole vectors in place; the tail through zero-padded copies, the same code on them.
        lines.append("    var i = start")
        lines.append("    while i + 16 <= end {")
        lines += body(kernel, inputs: { "ld(x\($0), i)" }, store: { v, o in "st(\(v), o\(o), i)" })
        lines.append("        i += 16")
        lines.append("    }")
        lines.append("    if i < end {")
        lines.append("        let live = end - i")
        for k in 0..<inputs {
            lines.append("        var t\(k) = V()")
            lines.append("        for l in 0..<live { t\(k)[l] = x\(k)[i + l] }")
        }
        lines += body(
            kernel, inputs: { "t\($0)" },
            store: { v, o in "do { let u = \(v); for l in 0..<live { o\(o)[i + l] = u[l] } }" })
        lines.append("    }")
        if registers > 0 { lines.append("    _ = (" + (0..<registers).map { "r\($0)" }.joined(separator: ", ") + ")") }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The kernel scalars an instruction reads.
    static func scalarIndices(_ instruction: FusedKernel.Instruction) -> [Int] {
        switch instruction {
        case .binaryScalarRight(_, _, _, let s), .binaryScalarLeft(_, _, let s, _): return [s]
        case .fused(_, _, _, let s, _): return [s]
        case .linear(_, _, let s, _, let u): return [s, u]
        case .rootQuotient(_, _, let k, _, let r, let e): return [k, r, e].compactMap { $0 }
        default: return []
        }
    }

    /// The statements of one vector step.
    static func body(
        _ kernel: FusedKernel, inputs: (Int) -> String, store: (String, Int) -> String
    ) -> [String] {
        func slot(_ k: Int) -> String {
            switch kernel.slot(k) {
            case .register(let r): return "r\(r)"
            case .input(let x): return inputs(x)
            case .broadcast(let b): return "b\(b)"
            }
        }
        func binary(_ f: BinaryFunction, _ a: String, _ b: String) -> String {
            switch f {
            case .op(.add): return "(\(a) + \(b))"
            case .op(.subtract): return "(\(a) - \(b))"
            case .op(.multiply): return "(\(a) * \(b))"
            case .op(.divide): return "(\(a) / \(b))"
            case .op(.power): return "vpow(\(a), \(b))"
            case .min: return "vmin(\(a), \(b))"
            case .max: return "vmax(\(a), \(b))"
            case .op(.equal): return "vbool(\(a) .== \(b))"
            case .op(.notEqual): return "vbool(\(a) .!= \(b))"
            case .op(.less): return "vbool(\(a) .< \(b))"
            case .op(.lessEqual): return "vbool(\(a) .<= \(b))"
            case .op(.greater): return "vbool(\(a) .> \(b))"
            case .op(.greaterEqual): return "vbool(\(a) .>= \(b))"
            case .op(.and): return "vbool((\(a) .!= 0) .& (\(b) .!= 0))"
            case .op(.or): return "vbool((\(a) .!= 0) .| (\(b) .!= 0))"
            }
        }
        var lines: [String] = []
        for instruction in kernel.instructions {
            let line: String
            switch instruction {
            case .fill(let dst, let value): line = "r\(dst) = V(repeating: Float(bitPattern: \(value.bitPattern)))"
            case .unary(let f, let dst, let a):
                let x = slot(a)
                switch f {
                case .negate: line = "r\(dst) = -\(x)"
                case .square: line = "do { let u = \(x); r\(dst) = u * u }"
                case .sqrt: line = "r\(dst) = \(x).squareRoot()"
                case .rsqrt: line = "r\(dst) = 1 / \(x).squareRoot()"
                case .abs: line = "r\(dst) = vabs(\(x))"
                case .sign: line = "r\(dst) = vsign(\(x))"
                case .not: line = "r\(dst) = vnot(\(x))"
                case .exp: line = "r\(dst) = vexp(\(x))"
                case .log: line = "r\(dst) = vlog(\(x))"
                }
            case .binary(let f, let dst, let a, let b): line = "r\(dst) = \(binary(f, slot(a), slot(b)))"
            case .binaryScalarRight(let f, let dst, let a, let s): line = "r\(dst) = \(binary(f, slot(a), "s\(s)"))"
            case .binaryScalarLeft(let f, let dst, let s, let b): line = "r\(dst) = \(binary(f, "s\(s)", slot(b)))"
            case .select(let dst, let c, let a, let b):
                line = "r\(dst) = \(slot(b)).replacing(with: \(slot(a)), where: \(slot(c)) .!= 0)"
            case .fused(.productPlus, let dst, let a, let s, let b): line = "r\(dst) = \(slot(a)) * s\(s) + \(slot(b))"
            case .fused(.productMinus, let dst, let a, let s, let b): line = "r\(dst) = \(slot(a)) * s\(s) - \(slot(b))"
            case .fused(.minusProduct, let dst, let a, let s, let b): line = "r\(dst) = \(slot(b)) - \(slot(a)) * s\(s)"
            case .linear(let dst, let a, let s, let b, let u):
                line = "r\(dst) = \(slot(a)) * s\(s) + \(slot(b)) * s\(u)"
            case .rootQuotient(let dst, let x, let k, let y, let r, let e):
                let top = k.map { "\(slot(x)) * s\($0)" } ?? slot(x)
                let radicand = r.map { "(\(slot(y)) * s\($0))" } ?? slot(y)
                line = "r\(dst) = \(top) / (\(radicand).squareRoot() + s\(e))"
            case .store(let src, let output): line = store(slot(src), output)
            }
            lines.append("        " + line)
        }
        return lines
    }
}
