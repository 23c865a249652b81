import OuroSupport
import OuroEngine

extension Mixer {
    // MARK: - MixerBackend (backward)

    func linearInputGradient(_ kind: LinearKind, gOut: Operand<FloatBuffer>, outCols: Int, inCols: Int, rows: Int,
                             into: Operand<FloatBuffer>, accumulate: Bool) {
        weight(kind).withUnsafeBufferPointer { w in
            BLAS.sgemm(m: rows, n: inCols, k: outCols, a: gOut.buffer.ptr + gOut.offset, lda: gOut.ld, b: w.baseAddress!, ldb: inCols,
                       beta: accumulate ? 1 : 0, c: into.buffer.pointer + into.offset, ldc: into.ld, runner: runner)
        }
    }

    func linearWeightGradient(gOut: Operand<FloatBuffer>, input: Operand<FloatBuffer>, outCols: Int, inCols: Int, rows: Int) -> [Float] {
        var g = [Float](repeating: 0, count: outCols * inCols)
        g.withUnsafeMutableBufferPointer { gp in
            BLAS.sgemm(transA: true, m: outCols, n: inCols, k: rows, a: gOut.buffer.ptr + gOut.offset, lda: gOut.ld,
                       b: input.buffer.ptr + input.offset, ldb: input.ld, c: gp.baseAddress!, ldc: inCols, runner: runner)
        }
        return g
    }

    func gateBackward(gm: FloatBuffer, y: FloatBuffer, xz: FloatBuffer, gy: FloatBuffer, gxz: FloatBuffer, rows: Int) {
        let E = config.dInner, zBase = xz.ptr + E
        runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
            for r in range {
                let g = gm.ptr + r * E, yr = y.ptr + r * E, z = zBase + r * 2 * E
                let gyr = gy.pointer + r * E, gz = gxz.pointer + r * 2 * E + E
                for e in 0..<E {
                    let gg = 0.5 * g[e]
                    let s = ScalarMath.sigmoid(z[e])
                    gyr[e] = gg * z[e] * s
                    gz[e] += gg * yr[e] * s * (1 + z[e] * (1 - s))
                }
            }
        }
    }

    func scanBackward(_ dir: ScanDirection, _ di: DirectionTensors<FloatBuffer>, gy: FloatBuffer, extras ex: DirectionExtras<FloatBuffer>,
                      gu: FloatBuffer, gDelta: FloatBuffer, gxdbl: FloatBuffer, batch: Int, parameters: Bool) -> (aLog: [Float], d: [Float])? {
        let c = config, E = c.dInner, N = c.dState, R = c.dtRank, xw = R + 2 * N, rows = batch * c.seqLen
        let p = prepared[dir.rawValue]
        guard let states = di.states else { preconditionFailure("Mixer.backward needs the forward states") }
        let gB = FloatBuffer(zeros: rows * N), gC = FloatBuffer(zeros: rows * N)
        var gA = [Float](repeating: 0, count: E * N), gD = [Float](repeating: 0, count: E)
        weights[dir].d.withUnsafeBufferPointer { dp in
        gA.withUnsafeMutableBufferPointer { gAp in
        gD.withUnsafeMutableBufferPointer { gDp in
            SelectiveScan.backward(shape: .init(batch: batch, length: c.seqLen, channels: E, state: N),
                                   u: di.xc.ptr, delta: di.delta.ptr, a2T: p.a2T.ptr, aT: p.aT.ptr,
                                   bc: .init(base: di.xdbl.ptr, ld: xw, bOffset: R, cOffset: R + N),
                                   d: dp.baseAddress!, reverse: dir == .backward, states: states.ptr, gy: gy.ptr,
                                   ghExt: ex.states?.ptr, gu: gu.pointer, gDelta: gDelta.pointer,
                                   gB: gB.pointer, gC: gC.pointer,
                                   gA: parameters ? gAp.baseAddress : nil, gD: parameters ? gDp.baseAddress : nil,
                                   runner: runner)
        }}}
        if let extraC = ex.c { for i in 0..<(rows * N) { gC.pointer[i] += extraC.pointer[i] } }
        for r in 0..<rows {
            for n in 0..<N {
                gxdbl.pointer[r * xw + R + n] = gB.pointer[r * N + n]
                gxdbl.pointer[r * xw + R + N + n] = gC.pointer[r * N + n]
            }
        }
        guard parameters else { return nil }
        // A = −exp(A_log) ⇒ gA_log = gA ⊙ A.
        var aLog = gA
        for e in 0..<E { for n in 0..<N { aLog[e * N + n] = gA[e * N + n] * p.aT.pointer[n * E + e] } }
        return (aLog, gD)
    }

    func softplusBackward(g: FloatBuffer, extra: FloatBuffer?, v: FloatBuffer, count: Int) {
        if let extra { for i in 0..<count { g.pointer[i] += extra.pointer[i] } }
        mapSIMD8Pair(count, g.pointer, v.ptr) { g, v in g * Elementwise.softplusGrad(v) }
    }

    func siluBackward(g: FloatBuffer, pre: FloatBuffer, count: Int) {
        mapSIMD8Pair(count, g.pointer, pre.ptr) { g, pre in g * Elementwise.siluGrad(pre) }
    }

    func convBackward(_ dir: ScanDirection, gpre: FloatBuffer, xz: FloatBuffer, gxz: FloatBuffer, batch: Int,
                      parameters: Bool) -> (weight: [Float], bias: [Float])? {
        let E = config.dInner, K = config.dConv, rows = batch * config.seqLen
        // The forward direction writes gx, the backward one adds to it.
        let gxDir = FloatBuffer(zeros: rows * E)
        var gwT = [Float](repeating: 0, count: K * E), gcb = [Float](repeating: 0, count: E)
        gwT.withUnsafeMutableBufferPointer { gw in
        gcb.withUnsafeMutableBufferPointer { gb in
            CausalConv1d.backward(batch: batch, length: config.seqLen, channels: E, taps: K, x: xz.ptr, ldx: 2 * E,
                                  wT: prepared[dir.rawValue].convWT.ptr, reverse: dir == .backward, gpre: gpre.ptr,
                                  gx: gxDir.pointer, ldgx: E,
                                  gwT: parameters ? gw.baseAddress : nil, gb: parameters ? gb.baseAddress : nil, runner: runner)
        }}
        for r in 0..<rows {
            let src = gxDir.ptr + r * E, dst = gxz.pointer + r * 2 * E
            for e in 0..<E { dst[e] += src[e] }
        }
        guard parameters else { return nil }
        var w = [Float](repeating: 0, count: E * K)
        for e in 0..<E { for k in 0..<K { w[e * K + k] = gwT[k * E + e] } }
        return (w, gcb)
    }

    func columnSums(_ x: FloatBuffer, rows: Int, cols: Int) -> [Float] {
        var s = [Float](repeating: 0, count: cols)
        for r in 0..<rows { for j in 0..<cols { s[j] += x.pointer[r * cols + j] } }
        return s
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
