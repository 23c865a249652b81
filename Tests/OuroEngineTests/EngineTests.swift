import OuroSupport
import Foundation
import Testing
import OuroEngine
import OuroTestSupport

@Suite struct VectorMathTests {
    @Test func expLogSoftplusMatchLibm() {
        var worstExp = 0.0, worstLog = 0.0, worstSp = 0.0, worstSig = 0.0
        var x: Float = -80
        while x < 80 {
            let v = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0137 })
            let e = VectorMath.exp(v), s = VectorMath.softplus(v), g = VectorMath.sigmoid(v)
            for j in 0..<8 {
                let xd = Double(v[j])
                worstExp = max(worstExp, abs(Double(e[j]) - Foundation.exp(xd)) / Foundation.exp(xd))
                let sp = xd > 20 ? xd : Foundation.log1p(Foundation.exp(xd))
                worstSp = max(worstSp, abs(Double(s[j]) - sp) / max(sp, 1e-30))
                worstSig = max(worstSig, abs(Double(g[j]) - 1 / (1 + Foundation.exp(-xd))))
            }
            x += 0.37
        }
        var y: Float = 1e-6
        while y < 1e6 {
            let v = SIMD8<Float>(repeating: y)
            worstLog = max(worstLog, abs(Double(VectorMath.log(v)[0]) - Foundation.log(Double(y))) / max(1, abs(Foundation.log(Double(y)))))
            y *= 1.37
        }
        #expect(worstExp < 5e-7, "exp \(worstExp)")
        #expect(worstSp < 5e-7, "softplus \(worstSp)")
        #expect(worstSig < 2e-7, "sigmoid \(worstSig)")
        #expect(worstLog < 3e-7, "log \(worstLog)")
    }
}

@Suite struct RandomTests {
    @Test func deterministicStreamsAndPermutations() {
        var a = Xoshiro256StarStar(seed: 42), b = Xoshiro256StarStar(seed: 42)
        let xs = (0..<5).map { _ in a.next() }, ys = (0..<5).map { _ in b.next() }
        #expect(xs == ys)
        var s1 = Xoshiro256StarStar(seed: 42, stream: 1), s2 = Xoshiro256StarStar(seed: 42, stream: 2)
        #expect(s1.next() != s2.next())
        var p = Xoshiro256StarStar(seed: 7)
        let perm = p.permutation(100)
        #expect(perm.sorted() == Array(0..<100) && perm != Array(0..<100))
        var n = Xoshiro256StarStar(seed: 3)
        let z = n.normals(20000)
        let mean = z.reduce(0, +) / Float(z.count)
        let varc = z.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(z.count)
        #expect(abs(mean) < 0.03 && abs(varc - 1) < 0.05)
    }
}

@Suite struct KernelTests {
    /// The vectorised scan equals a float64 reference of vim-architecture.md §2.5, both directions,
    /// with a channel count that is not a multiple of 8.
    @Test(arguments: [false, true])
    func scanMatchesReference(reverse: Bool) {
        let B = 2, L = 9, E = 11, N = 3, xw = 1 + 2 * N
        var rng = Xoshiro256StarStar(seed: 5)
        let u = rng.normals(B * L * E), delta = rng.normals(B * L * E).map { 0.05 + abs($0) * 0.3 }
        let A = (0..<(E * N)).map { _ in -Float(1 + rng.nextUniform() * 4) }
        let bc = rng.normals(B * L * xw), d = rng.normals(E)
        var a2T = [Float](repeating: 0, count: N * E)
        for e in 0..<E { for n in 0..<N { a2T[n * E + e] = A[e * N + n] * 1.4426950408889634 } }
        var y = [Float](repeating: 0, count: B * L * E), states = [Float](repeating: 0, count: B * L * N * E)
        u.withUnsafeBufferPointer { up in delta.withUnsafeBufferPointer { dp in a2T.withUnsafeBufferPointer { ap in
        bc.withUnsafeBufferPointer { bp in d.withUnsafeBufferPointer { ddp in y.withUnsafeMutableBufferPointer { yp in
        states.withUnsafeMutableBufferPointer { sp in
            SelectiveScan.forward(shape: .init(batch: B, length: L, channels: E, state: N), u: up.baseAddress!, delta: dp.baseAddress!,
                                  a2T: ap.baseAddress!, bc: .init(base: bp.baseAddress!, ld: xw, bOffset: 1, cOffset: 1 + N),
                                  d: ddp.baseAddress!, reverse: reverse, y: yp.baseAddress!, states: sp.baseAddress!,
                                  runner: ParallelRunner(threads: 2))
        }}}}}}}
        var worst = 0.0
        for b in 0..<B {
            for e in 0..<E {
                var h = [Double](repeating: 0, count: N)
                for i in 0..<L {
                    let t = reverse ? L - 1 - i : i
                    let row = (b * L + t)
                    var acc = Double(d[e]) * Double(u[row * E + e])
                    for n in 0..<N {
                        let a = Foundation.exp(Double(delta[row * E + e]) * Double(A[e * N + n]))
                        h[n] = a * h[n] + Double(delta[row * E + e]) * Double(bc[row * xw + 1 + n]) * Double(u[row * E + e])
                        acc += Double(bc[row * xw + 1 + N + n]) * h[n]
                        worst = max(worst, abs(Double(states[(row * N + n) * E + e]) - h[n]))
                    }
                    worst = max(worst, abs(Double(y[row * E + e]) - acc))
                }
            }
        }
        #expect(worst < 1e-5, "scan error \(worst)")
    }

    /// Runs the scan with one kernel; returns y and the kept states (empty when not kept).
    private func runScan(_ kernel: FloatKernelPath, B: Int, L: Int, E: Int, N: Int, reverse: Bool,
                         keep: Bool, threads: Int) -> (y: [Float], states: [Float]) {
        let xw = 3 + 2 * N
        var rng = Xoshiro256StarStar(seed: UInt64(E * 31 + N))
        let u = rng.normals(B * L * E), delta = rng.normals(B * L * E).map { 0.01 + abs($0) * 0.5 }
        let a2T = (0..<(N * E)).map { _ in -Float(0.5 + rng.nextUniform() * 20) }
        let bc = rng.normals(B * L * xw), d = rng.normals(E)
        var y = [Float](repeating: .nan, count: B * L * E), states = [Float](repeating: .nan, count: keep ? B * L * N * E : 0)
        u.withUnsafeBufferPointer { up in delta.withUnsafeBufferPointer { dp in a2T.withUnsafeBufferPointer { ap in
        bc.withUnsafeBufferPointer { bp in d.withUnsafeBufferPointer { ddp in y.withUnsafeMutableBufferPointer { yp in
        states.withUnsafeMutableBufferPointer { sp in
            SelectiveScan.forward(shape: .init(batch: B, length: L, channels: E, state: N), u: up.baseAddress!, delta: dp.baseAddress!,
                                  a2T: ap.baseAddress!, bc: .init(base: bp.baseAddress!, ld: xw, bOffset: 2, cOffset: 2 + N),
                                  d: ddp.baseAddress!, reverse: reverse, y: yp.baseAddress!, states: keep ? sp.baseAddress! : nil,
                                  runner: ParallelRunner(threads: threads), kernel: kernel)
        }}}}}}}
        return (y, states)
    }

    /// The C kernels equal the Swift reference bit for bit: several 64-channel blocks with a
    /// ragged tail, odd and even state sizes, both directions, with and without kept states.
    private func expectKernelMatchesReference(_ kernel: FloatKernelPath) {
        for (E, N) in [(150, 16), (19, 5), (64, 1)] {
            for reverse in [false, true] {
                for keep in [false, true] {
                    let ref = runScan(.reference, B: 2, L: 13, E: E, N: N, reverse: reverse, keep: keep, threads: 1)
                    let got = runScan(kernel, B: 2, L: 13, E: E, N: N, reverse: reverse, keep: keep, threads: 2)
                    let same = zip(ref.y, got.y).allSatisfy { $0.bitPattern == $1.bitPattern }
                        && zip(ref.states, got.states).allSatisfy { $0.bitPattern == $1.bitPattern }
                    #expect(same, "\(kernel) E=\(E) N=\(N) reverse=\(reverse) keep=\(keep) differs from the reference")
                }
            }
        }
    }

    /// Runs the scan's backward with one kernel: gu, gΔ, gB, gC, gA and gD in one array.
    private func runScanBackward(_ kernel: FloatKernelPath, B: Int, L: Int, E: Int, N: Int, reverse: Bool,
                                 external: Bool, parameters: Bool, threads: Int) -> [Float] {
        let xw = 3 + 2 * N
        var rng = Xoshiro256StarStar(seed: UInt64(E * 17 + N))
        let u = rng.normals(B * L * E), delta = rng.normals(B * L * E).map { 0.01 + abs($0) * 0.5 }
        let aT = (0..<(N * E)).map { _ in -Float(0.3 + rng.nextUniform() * 12) }
        let a2T = aT.map { $0 * 1.4426950408889634 }
        let bc = rng.normals(B * L * xw), d = rng.normals(E), gy = rng.normals(B * L * E)
        let states = rng.normals(B * L * N * E), ext = external ? rng.normals(B * L * N * E) : []
        var gu = [Float](repeating: .nan, count: B * L * E), gDelta = gu
        var gB = [Float](repeating: .nan, count: B * L * N), gC = gB
        var gA = [Float](repeating: .nan, count: parameters ? E * N : 0), gD = [Float](repeating: .nan, count: parameters ? E : 0)
        u.withUnsafeBufferPointer { up in delta.withUnsafeBufferPointer { dp in a2T.withUnsafeBufferPointer { a2p in
        aT.withUnsafeBufferPointer { ap in bc.withUnsafeBufferPointer { bp in d.withUnsafeBufferPointer { ddp in
        gy.withUnsafeBufferPointer { gyp in states.withUnsafeBufferPointer { sp in ext.withUnsafeBufferPointer { ep in
        gu.withUnsafeMutableBufferPointer { gup in gDelta.withUnsafeMutableBufferPointer { gdp in
        gB.withUnsafeMutableBufferPointer { gbp in gC.withUnsafeMutableBufferPointer { gcp in
        gA.withUnsafeMutableBufferPointer { gap in gD.withUnsafeMutableBufferPointer { gdd in
            SelectiveScan.backward(shape: .init(batch: B, length: L, channels: E, state: N), u: up.baseAddress!, delta: dp.baseAddress!,
                                   a2T: a2p.baseAddress!, aT: ap.baseAddress!,
                                   bc: .init(base: bp.baseAddress!, ld: xw, bOffset: 2, cOffset: 2 + N), d: ddp.baseAddress!,
                                   reverse: reverse, states: sp.baseAddress!, gy: gyp.baseAddress!,
                                   ghExt: external ? ep.baseAddress! : nil, gu: gup.baseAddress!, gDelta: gdp.baseAddress!,
                                   gB: gbp.baseAddress!, gC: gcp.baseAddress!,
                                   gA: parameters ? gap.baseAddress! : nil, gD: parameters ? gdd.baseAddress! : nil,
                                   runner: ParallelRunner(threads: threads), kernel: kernel)
        }}}}}}}}}}}}}}}
        return gu + gDelta + gB + gC + gA + gD
    }

    /// The C backward equals the Swift reference bit for bit: ragged chunk counts per job (odd
    /// and even, so the 16-lane path also runs single chunks), odd and even state sizes, both
    /// directions, with and without the external state gradient and the parameter gradients.
    private func expectBackwardMatchesReference(_ kernel: FloatKernelPath) {
        for (E, N) in [(150, 16), (44, 5), (19, 3), (64, 1)] {
            for reverse in [false, true] {
                for (external, parameters) in [(false, true), (true, false), (true, true)] {
                    let ref = runScanBackward(.reference, B: 2, L: 11, E: E, N: N, reverse: reverse, external: external,
                                              parameters: parameters, threads: 1)
                    let got = runScanBackward(kernel, B: 2, L: 11, E: E, N: N, reverse: reverse, external: external,
                                              parameters: parameters, threads: 2)
                    #expect(ref.allSatisfy { $0.isFinite }, "reference backward not finite")
                    let same = ref.map { $0.bitPattern } == got.map { $0.bitPattern }
                    #expect(same, "\(kernel) backward E=\(E) N=\(N) reverse=\(reverse) external=\(external) differs from the reference")
                }
            }
        }
    }

    /// Softplus (both sides of the threshold, tiny and large values), the gate and the causal conv
    /// (both directions, with SiLU, ragged channel counts) equal the Swift reference bit for bit.
    /// Calls `body` with a C array of pointers to copies of `arrays`.
    private func withPointers<R>(_ arrays: [[Float]], _ body: (UnsafePointer<UnsafePointer<Float>?>) -> R) -> R {
        let copies = arrays.map { a -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(a.count, 1))
            p.initialize(from: a, count: a.count)
            return p
        }
        defer { copies.forEach { $0.deallocate() } }
        let list: [UnsafePointer<Float>?] = copies.map { UnsafePointer($0) }
        return list.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// The inline exponentials bit for bit with the reference over their whole range: both
    /// clamps, results that are subnormal (2^x below -126 after rounding, e^x near -87.3) or near
    /// overflow (e^x near 88.7, where the reference scales in two halves), every rounding of the
    /// exponent (halfway points), signed zeros and NaN.
    private func expectExponentialsMatchReference(_ path: FloatKernelPath) {
        var x: [Float] = [0, -0.0, .nan, .infinity, -.infinity, 126.5, 127, 127.5, 128, -125.5, -126, -126.5, -127,
                          -87.33654, -87.33655, -87.3365, 88.72283, 88.72284, 88.7228, 88.5, -87.0, 1e-30, -1e-30]
        var v: Float = -140
        while v <= 140 { x.append(v); v += 0.0625 }             // every halfway point of the rounding
        var rng = Xoshiro256StarStar(seed: 5)
        x += (0..<4000).map { _ in Float(rng.nextUniform() * 280 - 140) }
        x += (0..<1000).map { _ in Float(rng.nextUniform() * 4 - 2) }
        for base2 in [true, false] {
            func run(_ p: FloatKernelPath) -> [Float] {
                var out = [Float](repeating: 1, count: x.count)
                x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer {
                    Elementwise.exponential(base2: base2, x.count, xp.baseAddress!, $0.baseAddress!, path: p)
                }}
                return out
            }
            let got = run(path), ref = run(.reference)
            let bad = (0..<x.count).filter { got[$0].bitPattern != ref[$0].bitPattern }
            #expect(bad.count == 0, "\(base2 ? "exp2" : "exp") \(path): \(bad.count) differ, first at x = \(bad.first.map { x[$0] } ?? 0)")
            // And they are the exponentials (the reference's accuracy, so a wrong path cannot agree by accident).
            for (i, xi) in x.enumerated() where xi.isFinite && abs(xi) < 80 {
                let exact = base2 ? Foundation.exp2(Double(xi)) : Foundation.exp(Double(xi))
                #expect(abs(Double(ref[i]) - exact) <= 1e-6 * exact, "\(base2 ? "exp2" : "exp")(\(xi))")
            }
        }
    }

    private func expectElementwiseMatchesReference(_ path: FloatKernelPath) {
        var rng = Xoshiro256StarStar(seed: 11)
        let n = 1000 + 13
        var x = rng.normals(n).map { $0 * 12 }
        x[0] = 20; x[1] = 20.000002; x[2] = -90; x[3] = 1e-7; x[4] = 95
        func softplus(_ p: FloatKernelPath) -> [Float] {
            var out = [Float](repeating: .nan, count: n)
            x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { Elementwise.softplus(n, xp.baseAddress!, $0.baseAddress!, path: p) } }
            return out
        }
        #expect(softplus(path).map(\.bitPattern) == softplus(.reference).map(\.bitPattern), "softplus \(path)")

        for count in [0, 7, 8, 23, 24, 1013] {
            let ys = rng.normals(count), a = Float(rng.normals(1)[0])
            func axpy(_ p: FloatKernelPath) -> [Float] {
                var y = ys
                x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { Vec.axpy(count, a, xp.baseAddress!, $0.baseAddress!, path: p) } }
                return y
            }
            #expect(axpy(path).map(\.bitPattern) == axpy(.reference).map(\.bitPattern), "axpy \(path) n=\(count)")
        }

        // The window-sum kernels of OuroMamba-Gen: ragged lengths around the 8/16/32-element
        // blocks, one to four terms.
        let terms = (0..<4).map { _ in rng.normals(1013) }, h = rng.normals(1013), w = rng.normals(4)
        for count in [0, 1, 7, 8, 16, 31, 32, 33, 63, 64, 100, 1013] {
            for k in 1...4 {
                func run(_ p: FloatKernelPath) -> (sum: [Float], y: [Float], dot: Double, plainDot: Double) {
                    // y starts as NaN: sumScaleDot writes it without reading it.
                    var sum = [Float](repeating: .nan, count: count), y = [Float](repeating: .nan, count: count)
                    var dot = 0.0, plainDot = 0.0
                    withPointers(terms) { src in w.withUnsafeBufferPointer { wp in h.withUnsafeBufferPointer { hp in
                        sum.withUnsafeMutableBufferPointer { Vec.weightedSum(count, terms: k, src, wp.baseAddress!, $0.baseAddress!, path: p) }
                        dot = y.withUnsafeMutableBufferPointer { Vec.sumScaleDot(count, terms: k, src, w[3], $0.baseAddress!, hp.baseAddress!, path: p) }
                        plainDot = Vec.dot(count, src[0]!, hp.baseAddress!, path: p)
                    }}}
                    return (sum, y, dot, plainDot)
                }
                let (a, b) = (run(path), run(.reference))
                #expect(a.sum.map(\.bitPattern) == b.sum.map(\.bitPattern), "weightedSum \(path) n=\(count) k=\(k)")
                #expect(a.y.map(\.bitPattern) == b.y.map(\.bitPattern), "sumScaleDot output \(path) n=\(count) k=\(k)")
                #expect(a.dot.bitPattern == b.dot.bitPattern, "sumScaleDot result \(path) n=\(count) k=\(k)")
                #expect(a.plainDot.bitPattern == b.plainDot.bitPattern, "dot \(path) n=\(count)")
                // And the values are the sums they claim to be.
                let exact = (0..<count).map { i in (0..<k).reduce(0.0) { $0 + Double(w[$1]) * Double(terms[$1][i]) } }
                for i in 0..<count { #expect(abs(Double(b.sum[i]) - exact[i]) <= 1e-5 * (1 + abs(exact[i]))) }
                for i in 0..<count {
                    let g = (0..<k).reduce(0.0) { $0 + Double(terms[$1][i]) }
                    #expect(abs(Double(b.y[i]) - Double(w[3]) * g) <= 1e-5 * (1 + abs(Double(w[3]) * g)), "sumScaleDot y[\(i)]")
                }
                let exactDot = (0..<count).reduce(0.0) { $0 + Double(terms[0][$1]) * Double(h[$1]) }
                #expect(abs(b.plainDot - exactDot) <= 1e-4 * (1 + abs(exactDot)), "dot n=\(count): \(b.plainDot) vs \(exactDot)")
            }
        }

        for E in [37, 64] {
            let rows = 5
            // Both directions' outputs (yb at rows * E), signed zeros included: the sum starts from +0.
            var y = rng.normals(2 * rows * E)
            let z = rng.normals(rows * 2 * E).map { $0 * 6 }
            y[0] = -0.0; y[rows * E] = -0.0; y[1] = -0.0; y[rows * E + 2] = 0
            func gate(_ p: FloatKernelPath) -> [Float] {
                var m = [Float](repeating: .nan, count: rows * E) // written, never read
                y.withUnsafeBufferPointer { yp in z.withUnsafeBufferPointer { zp in m.withUnsafeMutableBufferPointer { mp in
                    Elementwise.gate(rows: rows, channels: E, yForward: yp.baseAddress!, yBackward: yp.baseAddress! + rows * E, ldy: E,
                                     z: zp.baseAddress! + E, ldz: 2 * E, m: mp.baseAddress!, ldm: E, path: p)
                }}}
                return m
            }
            let ref = gate(.reference)
            #expect(gate(path).map(\.bitPattern) == ref.map(\.bitPattern), "gate \(path) E=\(E)")
            #expect(ref[0].bitPattern == Float(0).bitPattern, "(+0 + -0) + -0 is +0")
            for r in 0..<rows {
                for e in 0..<E {
                    let zv = Double(z[r * 2 * E + E + e]), s = zv / (1 + Foundation.exp(-zv))
                    let exact = 0.5 * (Double(y[r * E + e]) + Double(y[rows * E + r * E + e])) * s
                    #expect(abs(Double(ref[r * E + e]) - exact) <= 1e-5 * (1 + abs(exact)), "gate r=\(r) e=\(e)")
                }
            }

            // Rows in two jobs of 16, and a sequence shorter than the taps (both borders at once).
            for (L, reverse) in [(21, false), (21, true), (3, false), (3, true)] {
                let B = 2, K = 4
                let cx = rng.normals(B * L * 2 * E), wT = rng.normals(K * E), bias = rng.normals(E)
                func conv(_ p: FloatKernelPath) -> [Float] {
                    var out = [Float](repeating: .nan, count: B * L * E), act = out
                    cx.withUnsafeBufferPointer { xp in wT.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { op in act.withUnsafeMutableBufferPointer { ap in
                        CausalConv1d.forward(batch: B, length: L, channels: E, taps: K, x: xp.baseAddress!, ldx: 2 * E, wT: wp.baseAddress!,
                                             bias: bp.baseAddress!, reverse: reverse, out: op.baseAddress!, silu: ap.baseAddress!,
                                             runner: ParallelRunner(threads: 2), path: p)
                    }}}}}
                    return out + act
                }
                #expect(conv(path).map(\.bitPattern) == conv(.reference).map(\.bitPattern), "conv \(path) E=\(E) L=\(L) reverse=\(reverse)")
            }
        }
    }

    @Test(.enabled(if: FloatKernelPath.avx2.isAvailable, "this CPU has no AVX2+FMA"))
    func avx2KernelsAreBitIdenticalToReference() {
        expectKernelMatchesReference(.avx2)
        expectBackwardMatchesReference(.avx2)
        expectElementwiseMatchesReference(.avx2)
        expectExponentialsMatchReference(.avx2)
    }

    @Test(.enabled(if: FloatKernelPath.avx512.isAvailable, "this CPU has no AVX-512 F"))
    func avx512KernelsAreBitIdenticalToReference() {
        expectKernelMatchesReference(.avx512)
        expectBackwardMatchesReference(.avx512)
        expectElementwiseMatchesReference(.avx512)
        expectExponentialsMatchReference(.avx512)
    }

    @Test func parallelRunnerCoversEveryItemOnce() {
        for threads in [1, 2, 3] {
            var hits = [Int](repeating: 0, count: 37)
            hits.withUnsafeMutableBufferPointer { h in
                let p = h.baseAddress!
                ParallelRunner(threads: threads).forEach(37) { p[$0] += 1 }
            }
            #expect(hits.allSatisfy { $0 == 1 })
        }
    }

    @Test func sgemmRowMajorTransposedB() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]          // 2×3
        let w: [Float] = [7, 8, 9, 10, 11, 12]       // 2×3 (out, in)
        var c = [Float](repeating: 0, count: 4)
        a.withUnsafeBufferPointer { ap in w.withUnsafeBufferPointer { wp in c.withUnsafeMutableBufferPointer { cp in
            BLAS.sgemm(transB: true, m: 2, n: 2, k: 3, a: ap.baseAddress!, lda: 3, b: wp.baseAddress!, ldb: 3, c: cp.baseAddress!, ldc: 2)
        }}}
        #expect(c == [50, 68, 122, 167])
    }
}

@Suite struct GPUBackendTests {
    /// Without an NVIDIA driver the backend fails with a clear message (and the GPU parity test
    /// below is skipped with that message as its reason).
    @Test(.enabled(if: !GPUTestDevices.cudaAvailable, "a CUDA GPU is present: gpuScanMatchesCPU runs instead"))
    func withoutCUDATheBackendFailsWithAClearMessage() throws {
        do {
            _ = try GPUDevices.cuda()
            Issue.record("a CUDA device opened although GPUTestDevices found none")
        } catch let e as CUDAError {
            #expect(e.description.contains("CUDA") && e.description.count > 20)
        }
    }

    /// With an NVIDIA driver and GPU, the GPU scan matches the CPU scan.
    @Test(.enabled(if: GPUTestDevices.cudaAvailable, "\(GPUTestDevices.cudaMissingReason)"))
    func gpuScanMatchesCPU() throws {
        let dev: GPUDevice = try GPUDevices.cuda()
        let s = SelectiveScan.Shape(batch: 2, length: 23, channels: 19, state: 5)
        let rows = s.batch * s.length, E = s.channels, N = s.state, xw = 1 + 2 * N
        var rng = Xoshiro256StarStar(seed: 4)
        let u = rng.normals(rows * E), delta = rng.normals(rows * E).map { 0.05 + abs($0) * 0.2 }
        let a = (0..<(E * N)).map { -Float($0 % N + 1) }
        let bc = rng.normals(rows * xw), d = rng.normals(E)
        var a2T = [Float](repeating: 0, count: N * E)
        for e in 0..<E { for n in 0..<N { a2T[n * E + e] = a[e * N + n] * 1.4426950408889634 } }
        var y = [Float](repeating: 0, count: rows * E)
        u.withUnsafeBufferPointer { up in delta.withUnsafeBufferPointer { dp in a2T.withUnsafeBufferPointer { ap in
        bc.withUnsafeBufferPointer { bp in d.withUnsafeBufferPointer { ddp in y.withUnsafeMutableBufferPointer { yp in
            SelectiveScan.forward(shape: s, u: up.baseAddress!, delta: dp.baseAddress!, a2T: ap.baseAddress!,
                                  bc: .init(base: bp.baseAddress!, ld: xw, bOffset: 1, cOffset: 1 + N), d: ddp.baseAddress!,
                                  reverse: true, y: yp.baseAddress!, states: nil, runner: ParallelRunner(threads: 1))
        }}}}}}
        let g = try GPUScan.forward(dev, shape: s, u: u, delta: delta, a: a, bc: bc, ld: xw, bOffset: 1, cOffset: 1 + N, d: d, reverse: true)
        #expect(relativeMaxError(g, y) < 1e-5)
    }
}

/// The GPU kernel sources compile with NVRTC (when the library is present) for Ampere and
/// Hopper, and the emulator's kernel-signature parser reads them.
@Suite struct GPUKernelSourceTests {
    @Test(.enabled(if: GPUTestDevices.nvrtcAvailable, "\(GPUTestDevices.nvrtcMissingReason)"))
    func engineKernelsCompileWithNVRTC() throws {
        let nv = try NVRTCCompiler()
        for arch in [80, 90] { #expect(try nv.ptx(GPUOps.module, arch: arch).count > 1000) }
    }

    @Test(.enabled(if: GPUTestDevices.emulatedAvailable, "\(GPUTestDevices.emulatedMissingReason)"))
    func emulatedOpsMatchCPURMSNorm() throws {
        let dev: GPUDevice = try EmulatedGPUDevice()
        var rng = Xoshiro256StarStar(seed: 3)
        let rows = 7, d = 13, x = rng.normals(rows * d), w = rng.normals(d)
        var cpu = [Float](repeating: 0, count: rows * d)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in cpu.withUnsafeMutableBufferPointer { cp in
            RMSNorm.forward(rows: rows, d: d, x: xp.baseAddress!, weight: wp.baseAddress!, eps: 1e-5, out: cp.baseAddress!,
                            rstd: nil, runner: ParallelRunner(threads: 1))
        }}}
        let bx = try dev.upload(x), bw = try dev.upload(w), out = try dev.floats(rows * d)
        try GPUOps(device: dev).rmsNormForward(rows: rows, d: d, x: bx.address, weight: bw, eps: 1e-5, out: out.address, rstd: nil)
        #expect(relativeMaxError(try dev.download(out), cpu) < 1e-6)
    }
}

/// The CUDA kernels live in `.cu` files and are embedded at build time: what the device
/// compiles is that file's text (after the Swift side's one `#define`).
@Suite struct EmbeddedCUDATests {
    @Test func opsModuleIsTheCUFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/OuroEngine/GPU/ouro_ops.cu")
        let text = try String(contentsOf: file, encoding: .utf8)
        let code = GPUOps.module.code
        #expect(code.hasPrefix("#define OURO_MAXN "))
        #expect(code.hasSuffix(text), "the embedded ouro_ops differs from \(file.path): rebuild")
        #expect(code.contains("extern \"C\" __global__ void ouro_sum_channels("))
    }
}
