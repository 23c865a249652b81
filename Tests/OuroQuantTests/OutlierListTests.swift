import COuroKernels
import OuroEngine
import Testing
import OuroQuant

@Suite("Dynamic outlier lists") struct OutlierListTests {
    /// 64 channels near 1 with spikes at (step, channel): a spike of 100 is > μ + 3σ.
    static func sequence(length: Int, spikes: [(Int, Int)]) -> [Float] {
        var rng = Xoshiro256StarStar(seed: 1)
        var x = (0..<(length * 64)).map { _ in Float(0.9 + 0.2 * rng.nextUniform()) }
        for (t, c) in spikes { x[t * 64 + c] = 100 }
        return x
    }

    static func lists(_ x: [Float], scale: Float, length: Int) -> [[Int]] {
        var x = x
        let q = PointQuantizer(channels: 64, asymmetric: false, scales: [scale], zeros: [], inlierBits: 4, outlierBits: 8,
                               outliers: .dynamic(lambda: 3, nRefresh: 10, stats: .inliers))
        return x.withUnsafeMutableBufferPointer { q.stepLists($0.baseAddress!, length: length, apply: true) }
    }

    @Test("lists grow within a window and reset at every window start")
    func refresh() {
        let x = Self.sequence(length: 25, spikes: [(2, 3), (12, 5), (15, 7), (21, 3)])
        let l = Self.lists(x, scale: 0.01, length: 25)
        for t in 0..<2 { #expect(l[t].isEmpty, "t=\(t)") }
        for t in 2..<10 { #expect(l[t] == [3], "t=\(t): \(l[t])") }   // listed at t=2, kept while normal again
        for t in 10..<12 { #expect(l[t].isEmpty, "t=\(t)") }          // reset at the window start
        for t in 12..<15 { #expect(l[t] == [5], "t=\(t)") }
        for t in 15..<20 { #expect(l[t] == [5, 7], "t=\(t)") }        // grows
        #expect(l[20].isEmpty)
        for t in 21..<25 { #expect(l[t] == [3], "t=\(t)") }           // last, short window
    }

    @Test("no detection while the inliers fit the static scale")
    func trigger() {
        let x = Self.sequence(length: 12, spikes: [(2, 3)])
        // 100/7 < 20: s_dyn never exceeds S, the spike saturates instead of being listed.
        let l = Self.lists(x, scale: 20, length: 12)
        #expect(l.allSatisfy { $0.isEmpty })
    }

    /// One spike among C channels is the most a value can stand out: z = (C − 1)/√C (Samuelson's
    /// bound). It is listed exactly when that exceeds λ, on every path, including the widths where
    /// the kernels skip detection because no channel could be listed.
    @Test("a lone spike is listed exactly when (C − 1)/√C > λ", arguments: [3.0, 4.0])
    func samuelsonBound(lambda: Double) {
        for C in 2...20 {
            let expected = Double(C - 1) / Double(C).squareRoot() > lambda
            let q = PointQuantizer(channels: C, asymmetric: false, scales: [0.01], zeros: [], inlierBits: 4, outlierBits: 8,
                                   outliers: .dynamic(lambda: lambda, nRefresh: 10, stats: .inliers))
            for path in KernelPath.available {
                var x = [Float](repeating: 0, count: C)
                x[C / 2] = 5
                let l = x.withUnsafeMutableBufferPointer { q.stepLists($0.baseAddress!, length: 1, apply: false, path: path) }
                #expect(l[0] == (expected ? [C / 2] : []), "C \(C), λ \(lambda), \(path): \(l[0])")
            }
        }
    }

    @Test("outliers keep their value at b_O = 16 and get an 8-bit dynamic scale at b_O = 8")
    func outlierPrecision() {
        var x: [Float] = (0..<64).map { Float($0 % 5) * 0.1 }
        x[9] = 123.456
        for bits in [8, 16] {
            var y = x
            let q = PointQuantizer(channels: 64, asymmetric: false, scales: [0.1], zeros: [], inlierBits: 4, outlierBits: bits,
                                   outliers: .dynamic(lambda: 3, nRefresh: 10, stats: .inliers))
            _ = y.withUnsafeMutableBufferPointer { q.stepLists($0.baseAddress!, length: 1, apply: true) }
            #expect(bits == 16 ? y[9] == x[9] : y[9] == Float(123.456) / 127 * 127)
            #expect(y[1] == Float(0.1) * 1 && y[4] == Float(0.1) * 4)
        }
    }

    @Test("Δ outliers get the asymmetric 8-bit range [min(0, min_O x), max(0, max_O x)] with its zero point",
          arguments: [(Float(123.456), Float(-100)), (123.456, 100), (-123.456, -100)])
    func asymmetricOutlierRange(first: Float, second: Float) {
        var x: [Float] = (0..<64).map { Float($0 % 5) * 0.1 - 0.2 }
        x[9] = first; x[40] = second
        var y = x
        let q = PointQuantizer(channels: 64, asymmetric: true, scales: [0.1], zeros: [2], inlierBits: 4, outlierBits: 8,
                               outliers: .dynamic(lambda: 3, nRefresh: 10, stats: .inliers))
        _ = y.withUnsafeMutableBufferPointer { q.stepLists($0.baseAddress!, length: 1, apply: true) }
        // method.md 4.5: s_O = (hi − lo) / 255 (range in double), z_O = clamp(round(−lo / s_O), 0, 255);
        // with both outliers positive, lo = 0 and z_O = 0; with both negative, hi = 0 and z_O = 255.
        let lo = min(0, x[9], x[40]), hi = max(0, x[9], x[40])
        let s = Float((Double(hi) - Double(lo)) / 255), z = Float(min(max((-Double(lo) / Double(s)).rounded(.toNearestOrEven), 0), 255))
        for c in [9, 40] {
            let r = min(max((x[c] / s).rounded(.toNearestOrEven) + z, 0), 255)
            #expect(y[c] == s * (r - z), "channel \(c): \(y[c]) for \(x[c])")
            #expect(abs(y[c] - x[c]) <= s, "channel \(c) keeps its value within a step")
        }
    }
}

@Suite("Point quantizer paths") struct PointQuantizerPathTests {
    /// Heavy-tailed rows (a few channels 20× larger), odd channel counts, every rule: the
    /// portable and AVX2 paths must give the same lists and the same bits.
    @Test(.enabled(if: KernelPath.avx2Available, "this CPU has no AVX2"),
          arguments: [(13, false, OutlierStats.inliers), (64, false, .allWithZeros), (67, true, .inliers), (384, true, .allWithZeros),
                       (12, true, .inliers), (16, false, .inliers), (24, true, .allWithZeros), (31, false, .inliers),
                       (16, true, .allWithZeros), (32, true, .inliers), (48, false, .allWithZeros), (128, false, .inliers), (128, true, .inliers)])
    func portableEqualsAVX2(channels C: Int, asymmetric: Bool, stats: OutlierStats) throws {
        let L = 37
        var rng = Xoshiro256StarStar(seed: UInt64(C))
        let x = (0..<(L * C)).map { i -> Float in
            let v = Float(rng.nextUniform() * 2 - 1)
            return i % 11 == 3 ? v * 20 : v
        }
        let scales = (0..<L).map { Float(0.05 + 0.01 * Double($0 % 5)) }
        // The dynamic rule, and a fixed list (its channels start outside the inliers on every path).
        let rules: [(bits: Int, rule: PointQuantizer.Outliers)] = [(8, .dynamic(lambda: 3, nRefresh: 10, stats: stats)),
            (16, .dynamic(lambda: 3, nRefresh: 10, stats: stats)), (8, .fixed([1, Int32(C / 2), Int32(C - 1)]))]
        for (bits, rule) in rules {
            let q = PointQuantizer(channels: C, asymmetric: asymmetric, scales: scales, zeros: asymmetric ? [Int32](repeating: 7, count: L) : [],
                                   inlierBits: 4, outlierBits: bits, outliers: rule)
            var a = x, b = x
            let la = a.withUnsafeMutableBufferPointer { q.stepLists($0.baseAddress!, length: L, apply: true, path: .portable) }
            let lb = b.withUnsafeMutableBufferPointer { q.stepLists($0.baseAddress!, length: L, apply: true, path: .avx2) }
            #expect(la == lb)
            #expect(la.contains { !$0.isEmpty }, "the data must trigger detection")
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
            if KernelPath.avx512Available {
                var c = x
                let lc = c.withUnsafeMutableBufferPointer { q.stepLists($0.baseAddress!, length: L, apply: true, path: .avx512) }
                #expect(la == lc, "AVX-512 lists")
                #expect(a.map(\.bitPattern) == c.map(\.bitPattern), "AVX-512 values")
            }
        }
    }

    /// Rows whose spike sits within an ulp or two of its own threshold μ + λσ (a fixed point of
    /// "the spike = the float floor of the two-pass threshold"), at every window's first step:
    /// there the AVX-512 windows' float sums cannot decide the list and must take the exact path.
    /// A second, larger spike also makes the windows flag while the edge channel stays open. Every
    /// path must give the lists of the portable path, on both sides of the edge.
    @Test(.enabled(if: KernelPath.avx512Available, "this CPU has no AVX-512"),
          arguments: [(16, OutlierStats.inliers), (32, .allWithZeros), (64, .inliers), (128, .allWithZeros), (384, .inliers)])
    func spikesOnTheThresholdEdge(channels C: Int, stats: OutlierStats) throws {
        let L = 60, nRefresh = 10, lambda = 3.0
        var rng = Xoshiro256StarStar(seed: UInt64(500 + C))
        var x = (0..<(L * C)).map { _ in Float(rng.nextUniform() * 2 - 1) }
        var edges = 0
        for t in stride(from: 0, to: L, by: nRefresh) {
            let row = t * C, c = (t / nRefresh * 7) % C, other = (c + C / 2) % C
            let window = t / nRefresh
            if window % 3 != 0 { x[row + other] = 25 } // a second spike far above the threshold
            // The float floor of the two-pass threshold of this row with channel c set to v (every
            // channel an inlier, as at a window's first step): c is listed when v is above it.
            func floorOfThreshold(_ v: Float) throws -> Float {
                x[row + c] = v
                var thr = 0.0, exact: Float = 0, bracketed: Float = 0
                let keep = [UInt32](repeating: .max, count: C)
                let r = ouro_detect_threshold_probe(Int32(KernelPath.portable.rawValue), Array(x[row ..< row + C]), keep, Int32(C),
                                                    stats == .allWithZeros ? 1 : 0, lambda, &thr, &exact, &bracketed)
                try #require(r >= 0)
                return exact
            }
            func listed(_ v: Float) throws -> Bool { try v > floorOfThreshold(v) }
            // Iterate v <- floor(threshold(row with v)) near its fixed point, then walk to the two
            // adjacent floats where the decision flips.
            var v: Float = 4
            for _ in 0..<100 {
                let next = try floorOfThreshold(v)
                if next == v { break }
                v = next
            }
            var steps = 0
            if try listed(v) { while try listed(v.nextDown) { v = v.nextDown; steps += 1; try #require(steps < 64) }; v = v.nextDown }
            else { while try !listed(v.nextUp) { v = v.nextUp; steps += 1; try #require(steps < 64) } }
            // v is not listed and v.nextUp is: the window's first step takes one side of the edge
            // (windows 0-5: each side with and without the second spike).
            let above = window % 2 == 1
            x[row + c] = (above ? v.nextUp : v) * (t % 20 == 0 ? 1 : -1)
            edges += 1
        }
        try #require(edges == L / nRefresh)
        let scales = [Float](repeating: 0.01, count: L) // every step overflows: detection at every step
        let q = PointQuantizer(channels: C, asymmetric: false, scales: scales, zeros: [], inlierBits: 4, outlierBits: 8,
                               outliers: .dynamic(lambda: lambda, nRefresh: nRefresh, stats: stats))
        var a = x, b = x
        let portable = a.withUnsafeMutableBufferPointer { q.stepLists($0.baseAddress!, length: L, apply: true, path: .portable) }
        let wide = b.withUnsafeMutableBufferPointer { q.stepLists($0.baseAddress!, length: L, apply: true, path: .avx512) }
        #expect(portable == wide)
        let differing = zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differing == 0, "\(differing) fake-quantized values differ")
        // The edges fall both ways, so both outcomes of the exact path are compared.
        let edgeListed = stride(from: 0, to: L, by: nRefresh).map { t in portable[t].contains((t / nRefresh * 7) % C) }
        #expect(edgeListed.contains(true) && edgeListed.contains(false), "\(edgeListed)")
    }

    /// The Δ quantizer with the softplus fused (inliers from a table of the 16 levels, outliers
    /// through the kernel) against fake quantization followed by `Elementwise.softplus`.
    @Test(.enabled(if: KernelPath.avx512Available, "this CPU has no AVX-512"), arguments: [12, 16, 24, 67, 384])
    func fusedSoftplusEqualsSeparate(channels C: Int) throws {
        let L = 37
        var rng = Xoshiro256StarStar(seed: UInt64(1000 + C))
        // Pre-softplus Δ: mostly in [-4, 2], every 11th value 20× larger (some beyond the threshold 20).
        // λ = 2 on the narrow rows: 12 channels cannot put one value 4σ above their mean.
        let x = (0..<(L * C)).map { i -> Float in
            let v = Float(rng.nextUniform() * 6 - 4)
            return i % 11 == 3 ? v * 20 : v
        }
        let scales = (0..<L).map { Float(0.3 + 0.05 * Double($0 % 5)) }
        let q = PointQuantizer(channels: C, asymmetric: true, scales: scales, zeros: (0..<L).map { Int32(9 + $0 % 3) },
                               inlierBits: 4, outlierBits: 8, outliers: .dynamic(lambda: C < 32 ? 2 : 4, nRefresh: 10, stats: .inliers))
        try #require(q.fusesSoftplus())
        var a = x, b = x, ref = [Float](repeating: 0, count: L * C), fused = [Float](repeating: .nan, count: L * C)
        var ca = [Int32](repeating: 0, count: L), cb = ca
        a.withUnsafeMutableBufferPointer { p in
            ca.withUnsafeMutableBufferPointer { q.run(p.baseAddress!, ld: C, length: L, reversed: true, apply: true, counts: $0.baseAddress!, lists: nil) }
            ref.withUnsafeMutableBufferPointer { Elementwise.softplus(L * C, p.baseAddress!, $0.baseAddress!) }
        }
        b.withUnsafeMutableBufferPointer { p in
            cb.withUnsafeMutableBufferPointer { c in
                fused.withUnsafeMutableBufferPointer {
                    q.runSoftplus(p.baseAddress!, ld: C, length: L, reversed: true, counts: c.baseAddress!, lists: nil,
                                  softplus: $0.baseAddress!, ldSoftplus: C)
                }
            }
        }
        #expect(ca == cb)
        #expect(ca.contains { $0 > 0 }, "the data must trigger detection")
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "fake-quantized values")
        #expect(ref.map(\.bitPattern) == fused.map(\.bitPattern), "softplus")
    }

    /// Several samples in one call (their windows step together on the AVX-512 path, eight to a
    /// group, so a group spans samples where L is no multiple of the window) against one call per
    /// sample: the same counts, lists, values and softplus, on every path.
    @Test(arguments: [(16, false), (128, false), (64, true), (384, true), (13, false)])
    func samplesTogetherEqualOneByOne(channels C: Int, asymmetric: Bool) throws {
        let L = 37, N = 5, ld = C + 3 // rows with a gap, as the x_proj output's B and C columns
        var rng = Xoshiro256StarStar(seed: UInt64(77 + C))
        let x = (0..<(N * L * ld)).map { i -> Float in
            let v = Float(rng.nextUniform() * 2 - 1)
            return i % 11 == 3 ? v * 20 : v
        }
        let scales = (0..<L).map { Float(0.05 + 0.01 * Double($0 % 5)) }
        let q = PointQuantizer(channels: C, asymmetric: asymmetric, scales: scales, zeros: asymmetric ? [Int32](repeating: 7, count: L) : [],
                               inlierBits: 4, outlierBits: 8, outliers: .dynamic(lambda: 3, nRefresh: 10, stats: .inliers))
        for path in KernelPath.available {
            for reversed in [false, true] {
                let softplus = asymmetric && q.fusesSoftplus(path: path)
                var a = x, b = x
                var ca = [Int32](repeating: -1, count: N * L), cb = ca
                var la = [Int32](repeating: -1, count: N * L * C), lb = la
                var sa = [Float](repeating: 0, count: N * L * C), sb = sa
                a.withUnsafeMutableBufferPointer { p in ca.withUnsafeMutableBufferPointer { c in la.withUnsafeMutableBufferPointer { l in
                    sa.withUnsafeMutableBufferPointer { s in
                        for n in 0..<N {
                            if softplus {
                                q.runSoftplus(p.baseAddress! + n * L * ld, ld: ld, length: L, reversed: reversed, counts: c.baseAddress! + n * L,
                                              lists: l.baseAddress! + n * L * C, softplus: s.baseAddress! + n * L * C, ldSoftplus: C, path: path)
                            } else {
                                q.run(p.baseAddress! + n * L * ld, ld: ld, length: L, reversed: reversed, apply: true,
                                      counts: c.baseAddress! + n * L, lists: l.baseAddress! + n * L * C, path: path)
                            }
                        }
                    }
                }}}
                b.withUnsafeMutableBufferPointer { p in cb.withUnsafeMutableBufferPointer { c in lb.withUnsafeMutableBufferPointer { l in
                    sb.withUnsafeMutableBufferPointer { s in
                        if softplus {
                            q.runSoftplus(p.baseAddress!, ld: ld, length: L, samples: N, sampleStride: L * ld, reversed: reversed,
                                          counts: c.baseAddress!, lists: l.baseAddress!, softplus: s.baseAddress!, ldSoftplus: C,
                                          softplusSampleStride: L * C, path: path)
                        } else {
                            q.run(p.baseAddress!, ld: ld, length: L, samples: N, sampleStride: L * ld, reversed: reversed, apply: true,
                                  counts: c.baseAddress!, lists: l.baseAddress!, path: path)
                        }
                    }
                }}}
                #expect(ca == cb, "counts, \(path), reversed \(reversed)")
                #expect(ca.contains { $0 > 0 }, "the data must trigger detection")
                // Only the first counts[r] entries of a row's list slot are written.
                for r in 0..<(N * L) {
                    let n = Int(ca[r])
                    #expect(la[r * C ..< r * C + n] == lb[r * C ..< r * C + n], "list of row \(r), \(path)")
                }
                #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "values, \(path), reversed \(reversed)")
                #expect(sa.map(\.bitPattern) == sb.map(\.bitPattern), "softplus, \(path)")
            }
        }
    }
}
