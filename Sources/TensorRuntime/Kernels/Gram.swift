/// The Gram matrix `C = W·Wᵀ` of a float32 matrix, in `Double`: the first step of exact
/// singular values (the nuclear norm) every optimizer step.
///
/// `W` is the wide orientation (`p×q`, `p ≤ q`) of a row-major `rows × columns` matrix:
/// the matrix itself when it is wide, its transpose when it is tall. Only the upper triangle
/// of `C` (`j ≥ i`) is computed, half the products of a full multiply.
///
/// The structure is a GEMM's: `W` is converted to `Double` while it is packed, in blocks
/// of `kc` columns, as panels of 8 rows stored column by column (8 doubles per step, one
/// vector). On AVX-512 an 8×16 register tile of 16 `SIMD8<Double>` accumulators then takes
/// one row panel (broadcast one value at a time) against two column panels (two vector
/// loads); an 8×24 tile spilled accumulators to the stack (24 + 3 + the broadcasts exceed 32
/// registers once the compiler hoists the broadcasts). AVX2's 16 registers of 4 doubles
/// take a 4×8 tile (half a row panel against one column panel, 8 accumulators): the 8×16
/// tile's 32 spill.
/// Products are exact in `Double`, so the only rounding is that of the sums — the property
/// that lets the small singular values survive (a float32 Gram matrix loses every singular
/// value below about √ε·σ_max ≈ 3·10⁻⁴·σ_max).
public enum Gram {
    /// Rows of a panel (one 8-lane vector of doubles).
    static let panel = 8
    /// Column panels in the register tile.
    static let tilePanels = 2
    /// Depth of one packed block: `p × kc` doubles (256 KiB at p = 128) stay in L2.
    static let kc = 128

    /// The scratch a `p×q` Gram matrix needs.
    public struct Layout: Sendable {
        /// The short side.
        public let p: Int
        /// The long side.
        public let q: Int
        /// Panels of `W`, padded so that every row panel's columns are whole register tiles.
        let panels: Int
        /// The leading dimension of `C` (`panels · 8`).
        public let ld: Int
        /// Doubles of packed `W` (one `kc` block).
        public let packedCount: Int
        /// Doubles of `C` (`ld × ld`).
        public let gramCount: Int

        /// The layout for a `rows × columns` matrix.
        public init(rows: Int, columns: Int) {
            p = Swift.min(rows, columns)
            q = Swift.max(rows, columns)
            let used = (p + Gram.panel - 1) / Gram.panel
            panels = used + Gram.tilePanels - 1
            ld = panels * Gram.panel
            packedCount = Swift.max(1, panels * Gram.panel * Swift.min(Gram.kc, Swift.max(q, 1)))
            gramCount = Swift.max(1, ld * ld)
        }
    }

    /// Writes the upper triangle of `W·Wᵀ` into `c` (`c[i·ld + j]` for `j ≥ i`, `i, j < p`).
    /// Entries below the diagonal and beyond `p` are left with scratch values.
    /// - Parameters:
    ///   - a: the `rows × columns` matrix, row-major.
    ///   - packed: scratch of `layout.packedCount` doubles.
    ///   - c: `layout.gramCount` doubles.
    /// - Complexity: about `p²q/2` multiply-adds, for `p ≤ q` the matrix's sides.
    public static func upper(
        _ a: UnsafePointer<Float>, rows: Int, columns: Int, layout: Layout,
        packed: UnsafeMutablePointer<Double>, into c: UnsafeMutablePointer<Double>
    ) {
        upper(a, rows: rows, columns: columns, layout: layout, packed: packed, into: c, registers: .current)
    }

    /// ``upper(_:rows:columns:layout:packed:into:)`` with the register tile for `registers`
    /// (tests run both tiles on every machine).
    static func upper(
        _ a: UnsafePointer<Float>, rows: Int, columns: Int, layout: Layout,
        packed: UnsafeMutablePointer<Double>, into c: UnsafeMutablePointer<Double>, registers: VectorRegisters
    ) {
        let p = layout.p
        let q = layout.q
        if p == 0 { return }
        let usedPanels = (p + panel - 1) / panel
        var k0 = 0
        while k0 < q {
            let depth = Swift.min(kc, q - k0)
            pack(a, rows: rows, columns: columns, p: p, k0: k0, depth: depth, panels: layout.panels, into: packed)
            let panelStride = depth * panel
            if registers == .avx2 {
                for rowPanel in 0..<usedPanels {
                    for half in 0..<2 {
                        for columnPanel in rowPanel..<usedPanels {
                            halfPanelKernel(
                                depth: depth, a: packed + rowPanel * panelStride + half * 4,
                                b: packed + columnPanel * panelStride,
                                c: c + (rowPanel * panel + half * 4) * layout.ld + columnPanel * panel,
                                ld: layout.ld, load: k0 > 0)
                        }
                    }
                }
            } else {
                for rowPanel in 0..<usedPanels {
                    var columnPanel = rowPanel
                    while columnPanel < usedPanels {
                        microKernel(
                            depth: depth, a: packed + rowPanel * panelStride, b: packed + columnPanel * panelStride,
                            panelStride: panelStride, c: c + rowPanel * panel * layout.ld + columnPanel * panel,
                            ld: layout.ld, load: k0 > 0)
                        columnPanel += tilePanels
                    }
                }
            }
            k0 += depth
        }
    }

    /// Packs columns `k0 ..< k0 + depth` of `W` as panels of 8 rows, converted to `Double`:
    /// `packed[b·depth·8 + k·8 + r] = W[8b + r, k0 + k]`, zero for rows at or beyond `p`.
    static func pack(
        _ a: UnsafePointer<Float>, rows: Int, columns: Int, p: Int, k0: Int, depth: Int, panels: Int,
        into packed: UnsafeMutablePointer<Double>
    ) {
        let tall = rows > columns
        for b in 0..<panels {
            let out = packed + b * depth * panel
            let first = b * panel
            if first >= p {
                out.update(repeating: 0, count: depth * panel)
                continue
            }
            if tall {
                // W = Aᵀ: the 8 values of a step are 8 neighbours in row k of A.
                let whole = first + panel <= p
                for k in 0..<depth {
                    let row = a + (k0 + k) * columns + first
                    if whole {
                        let v = UnsafeRawPointer(row).loadUnaligned(as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(out + k * panel).storeBytes(
                            of: SIMD8<Double>(v), as: SIMD8<Double>.self)
                    } else {
                        for r in 0..<panel { out[k * panel + r] = first + r < p ? Double(row[r]) : 0 }
                    }
                }
            } else if first + panel <= p {
                // W = A: the panel's rows are 8 contiguous runs of A; transpose 8×8 blocks.
                let rows = a + first * columns + k0
                var k = 0
                while k + panel <= depth {
                    transposeBlock(rows + k, stride: columns, into: out + k * panel)
                    k += panel
                }
                while k < depth {
                    for r in 0..<panel { out[k * panel + r] = Double(rows[r * columns + k]) }
                    k += 1
                }
            } else {
                for r in 0..<panel {
                    if first + r >= p {
                        for k in 0..<depth { out[k * panel + r] = 0 }
                        continue
                    }
                    let row = a + (first + r) * columns + k0
                    for k in 0..<depth { out[k * panel + r] = Double(row[k]) }
                }
            }
        }
    }

    /// `out[c·8 + r] = Double(rows[r·stride + c])` for an 8×8 block: eight row loads, then
    /// the transpose by lane (the compiler turns it into shuffles).
    @inline(__always)
    static func transposeBlock(_ rows: UnsafePointer<Float>, stride: Int, into out: UnsafeMutablePointer<Double>) {
        @inline(__always) func row(_ r: Int) -> SIMD8<Double> {
            SIMD8<Double>(UnsafeRawPointer(rows + r * stride).loadUnaligned(as: SIMD8<Float>.self))
        }
        let (r0, r1, r2, r3, r4, r5, r6, r7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
        let o = UnsafeMutableRawPointer(out)
        for c in 0..<8 {
            let column = SIMD8<Double>(r0[c], r1[c], r2[c], r3[c], r4[c], r5[c], r6[c], r7[c])
            o.storeBytes(of: column, toByteOffset: c * 64, as: SIMD8<Double>.self)
        }
    }

    /// The 8×16 register tile: `c[0..<8, 0..<16] (+)= A·Bᵀ` over `depth` steps, where `a` is
    /// one packed panel (8 rows) and `b` the first of two consecutive packed panels.
    @inline(__always)
    static func microKernel(
        depth: Int, a: UnsafePointer<Double>, b: UnsafePointer<Double>, panelStride: Int,
        c: UnsafeMutablePointer<Double>, ld: Int, load: Bool
    ) {
        var c0_0 = SIMD8<Double>()
        var c0_1 = SIMD8<Double>()
        var c1_0 = SIMD8<Double>()
        var c1_1 = SIMD8<Double>()
        var c2_0 = SIMD8<Double>()
        var c2_1 = SIMD8<Double>()
        var c3_0 = SIMD8<Double>()
        var c3_1 = SIMD8<Double>()
        var c4_0 = SIMD8<Double>()
        var c4_1 = SIMD8<Double>()
        var c5_0 = SIMD8<Double>()
        var c5_1 = SIMD8<Double>()
        var c6_0 = SIMD8<Double>()
        var c6_1 = SIMD8<Double>()
        var c7_0 = SIMD8<Double>()
        var c7_1 = SIMD8<Double>()
        let b0p = UnsafeRawPointer(b)
        let b1p = UnsafeRawPointer(b + panelStride)
        var ap = a
        var offset = 0
        for _ in 0..<depth {
            let b0 = b0p.load(fromByteOffset: offset, as: SIMD8<Double>.self)
            let b1 = b1p.load(fromByteOffset: offset, as: SIMD8<Double>.self)
            let a0 = SIMD8<Double>(repeating: ap[0])
            c0_0.addProduct(a0, b0)
            c0_1.addProduct(a0, b1)
            let a1 = SIMD8<Double>(repeating: ap[1])
            c1_0.addProduct(a1, b0)
            c1_1.addProduct(a1, b1)
            let a2 = SIMD8<Double>(repeating: ap[2])
            c2_0.addProduct(a2, b0)
            c2_1.addProduct(a2, b1)
            let a3 = SIMD8<Double>(repeating: ap[3])
            c3_0.addProduct(a3, b0)
            c3_1.addProduct(a3, b1)
            let a4 = SIMD8<Double>(repeating: ap[4])
            c4_0.addProduct(a4, b0)
            c4_1.addProduct(a4, b1)
            let a5 = SIMD8<Double>(repeating: ap[5])
            c5_0.addProduct(a5, b0)
            c5_1.addProduct(a5, b1)
            let a6 = SIMD8<Double>(repeating: ap[6])
            c6_0.addProduct(a6, b0)
            c6_1.addProduct(a6, b1)
            let a7 = SIMD8<Double>(repeating: ap[7])
            c7_0.addProduct(a7, b0)
            c7_1.addProduct(a7, b1)
            ap += panel
            offset += panel * MemoryLayout<Double>.stride
        }
        let cr = UnsafeMutableRawPointer(c)
        let row = ld * MemoryLayout<Double>.stride
        let vector = panel * MemoryLayout<Double>.stride
        @inline(__always) func put(_ v: SIMD8<Double>, _ r: Int, _ j: Int) {
            let at = r * row + j * vector
            let value = load ? v + cr.loadUnaligned(fromByteOffset: at, as: SIMD8<Double>.self) : v
            cr.storeBytes(of: value, toByteOffset: at, as: SIMD8<Double>.self)
        }
        put(c0_0, 0, 0)
        put(c0_1, 0, 1)
        put(c1_0, 1, 0)
        put(c1_1, 1, 1)
        put(c2_0, 2, 0)
        put(c2_1, 2, 1)
        put(c3_0, 3, 0)
        put(c3_1, 3, 1)
        put(c4_0, 4, 0)
        put(c4_1, 4, 1)
        put(c5_0, 5, 0)
        put(c5_1, 5, 1)
        put(c6_0, 6, 0)
        put(c6_1, 6, 1)
        put(c7_0, 7, 0)
        put(c7_1, 7, 1)
    }

    /// The 4×8 register tile: `c[0..<4, 0..<8] (+)= A·Bᵀ` over `depth` steps, where `a` points
    /// at row 0 or 4 of a packed panel (4 values a step, 8 apart) and `b` at one packed panel.
    @inline(__always)
    static func halfPanelKernel(
        depth: Int, a: UnsafePointer<Double>, b: UnsafePointer<Double>, c: UnsafeMutablePointer<Double>, ld: Int,
        load: Bool
    ) {
        var c0 = SIMD8<Double>()
        var c1 = SIMD8<Double>()
        var c2 = SIMD8<Double>()
        var c3 = SIMD8<Double>()
        let bp = UnsafeRawPointer(b)
        var ap = a
        var offset = 0
        for _ in 0..<depth {
            let b0 = bp.load(fromByteOffset: offset, as: SIMD8<Double>.self)
            c0.addProduct(SIMD8<Double>(repeating: ap[0]), b0)
            c1.addProduct(SIMD8<Double>(repeating: ap[1]), b0)
            c2.addProduct(SIMD8<Double>(repeating: ap[2]), b0)
            c3.addProduct(SIMD8<Double>(repeating: ap[3]), b0)
            ap += panel
            offset += panel * MemoryLayout<Double>.stride
        }
        let cr = UnsafeMutableRawPointer(c)
        let row = ld * MemoryLayout<Double>.stride
        @inline(__always) func put(_ v: SIMD8<Double>, _ r: Int) {
            let value = load ? v + cr.loadUnaligned(fromByteOffset: r * row, as: SIMD8<Double>.self) : v
            cr.storeBytes(of: value, toByteOffset: r * row, as: SIMD8<Double>.self)
        }
        put(c0, 0)
        put(c1, 1)
        put(c2, 2)
        put(c3, 3)
    }

    /// The reference: every entry of `W·Wᵀ` (both triangles) by a plain loop in `Double`,
    /// kept as the test oracle for ``upper(_:rows:columns:layout:packed:into:)``.
    public static func naive(_ a: UnsafePointer<Float>, rows: Int, columns: Int) -> [Double] {
        let p = Swift.min(rows, columns)
        let q = Swift.max(rows, columns)
        func w(_ i: Int, _ k: Int) -> Double { Double(rows > columns ? a[k * columns + i] : a[i * columns + k]) }
        var c = [Double](repeating: 0, count: p * p)
        for i in 0..<p {
            for j in 0..<p {
                var s = 0.0
                for k in 0..<q { s += w(i, k) * w(j, k) }
                c[i * p + j] = s
            }
        }
        return c
    }
}
