import OuroEngine

/// Derived, read-only forms of a direction's weights that the kernels want.
struct PreparedDirection {
    let convWT: FloatBuffer   // (K, E)
    let aT: FloatBuffer       // A transposed (N, E)
    let a2T: FloatBuffer      // A·log2(e) transposed (N, E)

    init(_ w: DirectionWeights, E: Int, N: Int, K: Int) {
        let cw = FloatBuffer(zeros: K * E)
        for e in 0..<E { for k in 0..<K { cw.pointer[k * E + e] = w.convWeight[e * K + k] } }
        convWT = cw
        let at = FloatBuffer(zeros: N * E), a2 = FloatBuffer(zeros: N * E)
        for e in 0..<E {
            for n in 0..<N {
                let a = w.aOverride?[e * N + n] ?? -Float(Foundation.exp(Double(w.aLog[e * N + n])))
                at.pointer[n * E + e] = a
                a2.pointer[n * E + e] = a * 1.4426950408889634
            }
        }
        aT = at; a2T = a2
    }
}

/// Everything one mixer forward computed, kept for its backward pass or for inspection.
///
/// All tensors are [batch, L, ·] in original token order, including the backward direction.
public final class MixerInternals {
    public let batch: Int, length: Int
    /// RMSNorm output that entered in_proj (B·L, D).
    public let normed: FloatBuffer
    /// in_proj output (B·L, 2E): x | z.
    public let xz: FloatBuffer
    /// Per-direction tensors (index by `ScanDirection.rawValue`).
    public let directions: [DirectionInternals]
    /// (y_f + y_b)/2 after the gates, the out_proj input (B·L, E).
    public let m: FloatBuffer
    /// Mixer output (B·L, D).
    public let out: FloatBuffer

    init(batch: Int, length: Int, normed: FloatBuffer, xz: FloatBuffer, directions: [DirectionInternals],
         m: FloatBuffer, out: FloatBuffer) {
        self.batch = batch; self.length = length; self.normed = normed; self.xz = xz
        self.directions = directions; self.m = m; self.out = out
    }

    public subscript(_ d: ScanDirection) -> DirectionInternals { directions[d.rawValue] }
}

/// One direction's forward tensors.
public final class DirectionInternals {
    /// Conv output before SiLU (B·L, E).
    public let pre: FloatBuffer
    /// xc = SiLU(pre): the scan input u and the x_proj input (B·L, E).
    public let xc: FloatBuffer
    /// x_proj output (B·L, R + 2N): dt_low | B | C.
    public let xdbl: FloatBuffer
    /// Pre-softplus Δ, bias included (B·L, E).
    public let v: FloatBuffer
    /// Δ = softplus(v) (B·L, E).
    public let delta: FloatBuffer
    /// Scan output before the gate (B·L, E).
    public let y: FloatBuffer
    /// Scan states h_t as [b][t][n][e] (original positions), when requested.
    public let states: FloatBuffer?

    init(pre: FloatBuffer, xc: FloatBuffer, xdbl: FloatBuffer, v: FloatBuffer, delta: FloatBuffer,
         y: FloatBuffer, states: FloatBuffer?) {
        self.pre = pre; self.xc = xc; self.xdbl = xdbl; self.v = v; self.delta = delta; self.y = y; self.states = states
    }
}

/// Extra gradients a loss puts on a direction's internals (all original positions).
public struct DirectionExtraGradients {
    /// On every state h_t: [b][t][n][e].
    public var states: FloatBuffer?
    /// On C (B·L, N).
    public var c: FloatBuffer?
    /// On the post-softplus Δ (B·L, E).
    public var delta: FloatBuffer?
    public init(states: FloatBuffer? = nil, c: FloatBuffer? = nil, delta: FloatBuffer? = nil) {
        self.states = states; self.c = c; self.delta = delta
    }
}

/// The bimamba-v2 mixer of one layer (`vim-architecture.md` §2.4, §7).
struct Mixer {
    let config: VisionMambaConfig
    let weights: LayerWeights
    let layer: Int
    let prepared: [PreparedDirection]
    let runner: ParallelRunner

    init(config: VisionMambaConfig, weights: LayerWeights, layer: Int, runner: ParallelRunner) {
        self.config = config; self.weights = weights; self.layer = layer; self.runner = runner
        let E = config.dInner, N = config.dState, K = config.dConv
        prepared = [PreparedDirection(weights.forward, E: E, N: N, K: K),
                    PreparedDirection(weights.backward, E: E, N: N, K: K)]
    }

    /// output = input · weightᵀ (or the hook's own kernel). Buffers are passed as objects so
    /// they stay alive for the whole call.
    private func gemm(_ kind: LinearKind, hooks: ForwardHooks?, input buffer: FloatBuffer, ldIn: Int,
                      inCols: Int, rows: Int, batch: Int, weight: [Float], outCols: Int,
                      output outBuffer: FloatBuffer, ldOut: Int) {
        let input = buffer.pointer, output = outBuffer.pointer
        if let hooks, hooks.linear(kind, layer: layer,
                                   input: ActivationView(values: input, ld: ldIn, channels: inCols, batch: batch, length: config.seqLen),
                                   output: output, ldOut: ldOut) { return }
        weight.withUnsafeBufferPointer { w in
            BLAS.sgemm(transB: true, m: rows, n: outCols, k: inCols, a: input, lda: ldIn, b: w.baseAddress!, ldb: inCols,
                       c: output, ldc: ldOut, runner: runner)
        }
    }

    /// Offers the input of a quantized linear (`channels` columns of rows `ld` apart) to the
    /// hooks and returns what the linear reads: `source` itself when the hooks leave linear inputs
    /// alone, else a compact copy the hooks may quantize, so the FP activation stays intact.
    private func offerLinearInput(_ point: ActivationPoint, hooks: ForwardHooks?, source: FloatBuffer, ld: Int,
                                  channels: Int, batch: Int) -> (buffer: FloatBuffer, ld: Int) {
        guard let hooks else { return (source, ld) }
        let L = config.seqLen, rows = batch * L
        func view(_ p: UnsafeMutablePointer<Float>, _ ld: Int) -> ActivationView {
            ActivationView(values: p, ld: ld, channels: channels, batch: batch, length: L)
        }
        if !hooks.modifiesLinearInputs {
            hooks.activation(point, layer: layer, view(source.pointer, ld))
            return (source, ld)
        }
        let copy = FloatBuffer(uninitialized: rows * channels)
        for r in 0..<rows { (copy.pointer + r * channels).update(from: source.pointer + r * ld, count: channels) }
        hooks.activation(point, layer: layer, view(copy.pointer, channels))
        return (copy, channels)
    }

    /// Runs the mixer on `normed` (B·L, D). `keepStates` stores every scan state (for
    /// backward passes and the generator). With hooks, each activation point is offered to
    /// them before it is consumed.
    func forward(normed: FloatBuffer, batch Bt: Int, keepStates: Bool, hooks: ForwardHooks?) -> MixerInternals {
        let c = config, L = c.seqLen, D = c.embedDim, E = c.dInner, N = c.dState, R = c.dtRank, K = c.dConv
        let rows = Bt * L, xw = R + 2 * N
        func view(_ p: UnsafeMutablePointer<Float>, _ ld: Int, _ ch: Int) -> ActivationView {
            ActivationView(values: p, ld: ld, channels: ch, batch: Bt, length: L)
        }
        // Point `in` (the FP input stays intact for the backward pass).
        let inProj = offerLinearInput(ActivationPoint(.input), hooks: hooks, source: normed, ld: D, channels: D, batch: Bt)
        let xz = FloatBuffer(uninitialized: rows * 2 * E)
        gemm(.inProj, hooks: hooks, input: inProj.buffer, ldIn: inProj.ld, inCols: D, rows: rows, batch: Bt,
             weight: weights.inProj, outCols: 2 * E, output: xz, ldOut: 2 * E)

        var dirs: [DirectionInternals] = []
        let m = FloatBuffer(zeros: rows * E)
        for dir in ScanDirection.allCases {
            let w = weights[dir], p = prepared[dir.rawValue], rev = dir == .backward
            let pre = FloatBuffer(uninitialized: rows * E), xc = FloatBuffer(uninitialized: rows * E)
            w.convBias.withUnsafeBufferPointer { bias in
                CausalConv1d.forward(batch: Bt, length: L, channels: E, taps: K, x: xz.ptr, ldx: 2 * E,
                                     wT: p.convWT.ptr, bias: bias.baseAddress!, reverse: rev, out: pre.pointer,
                                     silu: xc.pointer, runner: runner)
            }
            // Point `xproj`: the scan reads xc unquantized.
            let xproj = offerLinearInput(ActivationPoint(.xproj, dir), hooks: hooks, source: xc, ld: E, channels: E, batch: Bt)
            let xdbl = FloatBuffer(uninitialized: rows * xw)
            gemm(.xProj(dir), hooks: hooks, input: xproj.buffer, ldIn: xproj.ld, inCols: E, rows: rows, batch: Bt,
                 weight: w.xProj, outCols: xw, output: xdbl, ldOut: xw)
            // Point `dtproj` (dt_low, the first R columns of xdbl); B and C are quantized in place
            // (the scan uses B̂, Ĉ).
            let dtIn = offerLinearInput(ActivationPoint(.dtproj, dir), hooks: hooks, source: xdbl, ld: xw, channels: R, batch: Bt)
            let v = FloatBuffer(uninitialized: rows * E)
            gemm(.dtProj(dir), hooks: hooks, input: dtIn.buffer, ldIn: dtIn.ld, inCols: R, rows: rows, batch: Bt,
                 weight: w.dtProj, outCols: E, output: v, ldOut: E)
            w.dtBias.withUnsafeBufferPointer { bias in
                let bp = bias.baseAddress!
                runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
                    for r in range { let vr = v.pointer + r * E; for e in 0..<E { vr[e] += bp[e] } }
                }
            }
            if let hooks {
                hooks.activation(ActivationPoint(.delta, dir), layer: layer, view(v.pointer, E, E))
                hooks.activation(ActivationPoint(.B, dir), layer: layer, view(xdbl.pointer + R, xw, N))
                hooks.activation(ActivationPoint(.C, dir), layer: layer, view(xdbl.pointer + R + N, xw, N))
            }
            let delta = FloatBuffer(uninitialized: rows * E)
            runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
                Elementwise.softplus(range.count * E, v.ptr + range.lowerBound * E, delta.pointer + range.lowerBound * E)
            }
            let y = FloatBuffer(uninitialized: rows * E)
            let states = keepStates ? FloatBuffer(zeros: rows * N * E) : nil
            w.d.withUnsafeBufferPointer { dp in
                SelectiveScan.forward(shape: .init(batch: Bt, length: L, channels: E, state: N),
                                      u: xc.ptr, delta: delta.ptr, a2T: p.a2T.ptr,
                                      bc: .init(base: xdbl.ptr, ld: xw, bOffset: R, cOffset: R + N),
                                      d: dp.baseAddress!, reverse: rev, y: y.pointer, states: states?.pointer, runner: runner)
            }
            // Gate and average: m += ½ · y ⊙ SiLU(z).
            let zBase = xz.ptr + E
            runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
                for r in range {
                    let yr = y.ptr + r * E, zr = zBase + r * 2 * E, mr = m.pointer + r * E
                    var e = 0
                    while e + 8 <= E {
                        mr.store8(e, mr.load8(e) + 0.5 * yr.load8(e) * VectorMath.silu(zr.load8(e)))
                        e += 8
                    }
                    while e < E { mr[e] += 0.5 * yr[e] * ScalarMath.silu(zr[e]); e += 1 }
                }
            }
            dirs.append(DirectionInternals(pre: pre, xc: xc, xdbl: xdbl, v: v, delta: delta, y: y, states: states))
        }
        // Point `out` (m stays intact for the backward pass).
        let outIn = offerLinearInput(ActivationPoint(.out), hooks: hooks, source: m, ld: E, channels: E, batch: Bt)
        let out = FloatBuffer(uninitialized: rows * D)
        gemm(.outProj, hooks: hooks, input: outIn.buffer, ldIn: outIn.ld, inCols: E, rows: rows, batch: Bt,
             weight: weights.outProj, outCols: D, output: out, ldOut: D)
        return MixerInternals(batch: Bt, length: L, normed: normed, xz: xz, directions: dirs, m: m, out: out)
    }
}

import Foundation
