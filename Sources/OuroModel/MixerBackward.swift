import OuroEngine

/// Gradients of one direction's parameters.
struct DirectionGradients {
    var convWeight: [Float], convBias: [Float], xProj: [Float], dtProj: [Float], dtBias: [Float], aLog: [Float], d: [Float]
}

extension Mixer {
    /// Backward of the mixer (`vim-architecture.md` §7) from the gradient on its output.
    ///
    /// Returns the gradient on the normed input (B·L, D). When `grads` is given, parameter
    /// gradients of this layer are written into it (overwriting). `extra` adds loss gradients
    /// on the internals of each direction (states, C, Δ).
    func backward(_ a: MixerInternals, gOut: FloatBuffer, extra: [DirectionExtraGradients?]?,
                  grads: UnsafeMutablePointer<LayerWeights>?) -> FloatBuffer {
        let c = config, Bt = a.batch, L = c.seqLen, D = c.embedDim, E = c.dInner, N = c.dState
        let R = c.dtRank, K = c.dConv, rows = Bt * L, xw = R + 2 * N
        let w = weights
        // out_proj.
        if let grads {
            grads.pointee.outProj.withUnsafeMutableBufferPointer { g in
                BLAS.sgemm(transA: true, m: D, n: E, k: rows, a: gOut.ptr, lda: D, b: a.m.ptr, ldb: E, c: g.baseAddress!, ldc: E, runner: runner)
            }
        }
        let gm = FloatBuffer(zeros: rows * E)
        w.outProj.withUnsafeBufferPointer { wo in
            BLAS.sgemm(m: rows, n: E, k: D, a: gOut.ptr, lda: D, b: wo.baseAddress!, ldb: E, c: gm.pointer, ldc: E, runner: runner)
        }
        let gxz = FloatBuffer(zeros: rows * 2 * E)
        let zBase = a.xz.ptr + E
        for dir in ScanDirection.allCases {
            let di = a[dir], wd = w[dir], p = prepared[dir.rawValue], rev = dir == .backward
            let ex = extra?[dir.rawValue] ?? nil
            // Gate: o = ½·y ⊙ SiLU(z).
            let gy = FloatBuffer(zeros: rows * E)
            runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
                for r in range {
                    let g = gm.ptr + r * E, y = di.y.ptr + r * E, z = zBase + r * 2 * E
                    let gyr = gy.pointer + r * E, gz = gxz.pointer + r * 2 * E + E
                    for e in 0..<E {
                        let gg = 0.5 * g[e]
                        let s = ScalarMath.sigmoid(z[e])
                        gyr[e] = gg * z[e] * s
                        gz[e] += gg * y[e] * s * (1 + z[e] * (1 - s))
                    }
                }
            }
            guard let states = di.states else { preconditionFailure("Mixer.backward needs the forward states") }
            let gu = FloatBuffer(zeros: rows * E), gDelta = FloatBuffer(zeros: rows * E)
            let gxdbl = FloatBuffer(zeros: rows * xw)
            let gB = FloatBuffer(zeros: rows * N), gC = FloatBuffer(zeros: rows * N)
            var gA = [Float](repeating: 0, count: E * N), gD = [Float](repeating: 0, count: E)
            wd.d.withUnsafeBufferPointer { dp in
            gA.withUnsafeMutableBufferPointer { gAp in
            gD.withUnsafeMutableBufferPointer { gDp in
                SelectiveScan.backward(shape: .init(batch: Bt, length: L, channels: E, state: N),
                                       u: di.xc.ptr, delta: di.delta.ptr, a2T: p.a2T.ptr, aT: p.aT.ptr,
                                       bc: .init(base: di.xdbl.ptr, ld: xw, bOffset: R, cOffset: R + N),
                                       d: dp.baseAddress!, reverse: rev, states: states.ptr, gy: gy.ptr,
                                       ghExt: ex?.states?.ptr, gu: gu.pointer, gDelta: gDelta.pointer,
                                       gB: gB.pointer, gC: gC.pointer,
                                       gA: grads == nil ? nil : gAp.baseAddress, gD: grads == nil ? nil : gDp.baseAddress,
                                       runner: runner)
            }}}
            if let extraC = ex?.c { for i in 0..<(rows * N) { gC.pointer[i] += extraC.pointer[i] } }
            if let extraD = ex?.delta { for i in 0..<(rows * E) { gDelta.pointer[i] += extraD.pointer[i] } }
            // Δ = softplus(v): gv = gΔ·σ(v) (1 above the threshold). Reuse gDelta as gv.
            mapSIMD8Pair(rows * E, gDelta.pointer, di.v.ptr) { g, v in g * Elementwise.softplusGrad(v) }
            let gv = gDelta
            for r in 0..<rows {
                for n in 0..<N {
                    gxdbl.pointer[r * xw + R + n] = gB.pointer[r * N + n]
                    gxdbl.pointer[r * xw + R + N + n] = gC.pointer[r * N + n]
                }
            }
            // dt_proj: v = dt_low·W_dtᵀ + bias.
            wd.dtProj.withUnsafeBufferPointer { wdt in
                BLAS.sgemm(m: rows, n: R, k: E, a: gv.ptr, lda: E, b: wdt.baseAddress!, ldb: R, c: gxdbl.pointer, ldc: xw, runner: runner)
            }
            // x_proj: gxc = gu + gx_dbl·W_x.
            wd.xProj.withUnsafeBufferPointer { wx in
                BLAS.sgemm(m: rows, n: E, k: xw, a: gxdbl.ptr, lda: xw, b: wx.baseAddress!, ldb: E, beta: 1, c: gu.pointer, ldc: E, runner: runner)
            }
            let gxc = gu
            // SiLU after the conv.
            mapSIMD8Pair(rows * E, gxc.pointer, di.pre.ptr) { g, pre in g * Elementwise.siluGrad(pre) }
            let gpre = gxc
            // Conv backward: the forward direction writes gx, the backward one adds to it.
            let gxDir = FloatBuffer(zeros: rows * E)
            var gwT = [Float](repeating: 0, count: K * E), gcb = [Float](repeating: 0, count: E)
            gwT.withUnsafeMutableBufferPointer { gw in
            gcb.withUnsafeMutableBufferPointer { gb in
                CausalConv1d.backward(batch: Bt, length: L, channels: E, taps: K, x: a.xz.ptr, ldx: 2 * E, wT: p.convWT.ptr,
                                      reverse: rev, gpre: gpre.ptr, gx: gxDir.pointer, ldgx: E,
                                      gwT: grads == nil ? nil : gw.baseAddress, gb: grads == nil ? nil : gb.baseAddress,
                                      runner: runner)
            }}
            for r in 0..<rows {
                let src = gxDir.ptr + r * E, dst = gxz.pointer + r * 2 * E
                for e in 0..<E { dst[e] += src[e] }
            }
            if let grads {
                var g = DirectionGradients(convWeight: [Float](repeating: 0, count: E * K), convBias: gcb,
                                           xProj: [Float](repeating: 0, count: xw * E), dtProj: [Float](repeating: 0, count: E * R),
                                           dtBias: [Float](repeating: 0, count: E), aLog: gA, d: gD)
                for e in 0..<E { for k in 0..<K { g.convWeight[e * K + k] = gwT[k * E + e] } }
                g.xProj.withUnsafeMutableBufferPointer { gx in
                    BLAS.sgemm(transA: true, m: xw, n: E, k: rows, a: gxdbl.ptr, lda: xw, b: di.xc.ptr, ldb: E, c: gx.baseAddress!, ldc: E, runner: runner)
                }
                g.dtProj.withUnsafeMutableBufferPointer { gd in
                    BLAS.sgemm(transA: true, m: E, n: R, k: rows, a: gv.ptr, lda: E, b: di.xdbl.ptr, ldb: xw, c: gd.baseAddress!, ldc: R, runner: runner)
                }
                for r in 0..<rows { for e in 0..<E { g.dtBias[e] += gv.pointer[r * E + e] } }
                // A = −exp(A_log) ⇒ gA_log = gA ⊙ A.
                for e in 0..<E { for n in 0..<N { g.aLog[e * N + n] = gA[e * N + n] * p.aT.pointer[n * E + e] } }
                var dw = grads.pointee[dir]
                dw.convWeight = g.convWeight; dw.convBias = g.convBias; dw.xProj = g.xProj; dw.dtProj = g.dtProj
                dw.dtBias = g.dtBias; dw.aLog = g.aLog; dw.d = g.d
                grads.pointee[dir] = dw
            }
        }
        // in_proj.
        if let grads {
            grads.pointee.inProj.withUnsafeMutableBufferPointer { g in
                BLAS.sgemm(transA: true, m: 2 * E, n: D, k: rows, a: gxz.ptr, lda: 2 * E, b: a.normed.ptr, ldb: D, c: g.baseAddress!, ldc: D, runner: runner)
            }
        }
        let gNormed = FloatBuffer(zeros: rows * D)
        w.inProj.withUnsafeBufferPointer { wi in
            BLAS.sgemm(m: rows, n: D, k: 2 * E, a: gxz.ptr, lda: 2 * E, b: wi.baseAddress!, ldb: D, c: gNormed.pointer, ldc: D, runner: runner)
        }
        return gNormed
    }
}

/// dst[i] = f(dst[i], src[i]) over SIMD8 lanes.
@inline(__always)
func mapSIMD8Pair(_ n: Int, _ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>,
                  _ f: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) {
    var i = 0
    while i + 8 <= n { dst.store8(i, f(dst.load8(i), src.load8(i))); i += 8 }
    if i < n {
        var a = SIMD8<Float>(repeating: 0), b = SIMD8<Float>(repeating: 0)
        for j in 0..<(n - i) { a[j] = dst[i + j]; b[j] = src[i + j] }
        let r = f(a, b)
        for j in 0..<(n - i) { dst[i + j] = r[j] }
    }
}
