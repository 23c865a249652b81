import OuroSupport
import Foundation
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

/// The bimamba-v2 mixer of one layer on the CPU (`vim-architecture.md` §2.4, §7): the host
/// backend of `MixerGraph`, with OpenBLAS GEMMs, the engine's kernels and `ForwardHooks`
/// (observation, fake quantization, integer linears).
struct Mixer: MixerBackend {
    typealias Buffer = FloatBuffer
    let config: VisionMambaConfig
    let weights: LayerWeights
    let layer: Int
    let prepared: [PreparedDirection]
    let runner: ParallelRunner
    /// Hooks of the current forward pass.
    var hooks: ForwardHooks?

    init(config: VisionMambaConfig, weights: LayerWeights, prepared: [PreparedDirection], layer: Int, runner: ParallelRunner) {
        self.config = config; self.weights = weights; self.prepared = prepared; self.layer = layer; self.runner = runner
    }

    // MARK: - MixerBackend (forward)

    func floats(_ count: Int) -> FloatBuffer { FloatBuffer(uninitialized: count) }
    func zeros(_ count: Int) -> FloatBuffer { FloatBuffer(zeros: count) }

    private func view(_ source: Operand<FloatBuffer>, channels: Int, batch: Int) -> ActivationView {
        ActivationView(values: source.buffer.pointer + source.offset, ld: source.ld, channels: channels, batch: batch, length: config.seqLen)
    }

    /// When the hooks may rewrite linear inputs they get a compact copy, so the FP activation
    /// stays intact for the rest of the graph.
    func linearInput(_ point: ActivationPoint, _ source: Operand<FloatBuffer>, channels: Int, batch: Int) -> Operand<FloatBuffer> {
        guard let hooks else { return source }
        if !hooks.modifiesLinearInputs {
            hooks.activation(point, layer: layer, view(source, channels: channels, batch: batch))
            return source
        }
        let rows = batch * config.seqLen, copy = FloatBuffer(uninitialized: rows * channels)
        for r in 0..<rows { (copy.pointer + r * channels).update(from: source.buffer.pointer + source.offset + r * source.ld, count: channels) }
        let c = Operand(buffer: copy, ld: channels)
        hooks.activation(point, layer: layer, view(c, channels: channels, batch: batch))
        return c
    }

    func observe(_ point: ActivationPoint, _ source: Operand<FloatBuffer>, channels: Int, batch: Int) {
        hooks?.activation(point, layer: layer, view(source, channels: channels, batch: batch))
    }

    /// The weight of a linear of this layer.
    func weight(_ kind: LinearKind) -> [Float] {
        switch kind {
        case .inProj: return weights.inProj
        case .outProj: return weights.outProj
        case .xProj(let d): return weights[d].xProj
        case .dtProj(let d): return weights[d].dtProj
        }
    }

    /// output = input · Wᵀ, or the hooks' own kernel (integer engines).
    func linear(_ kind: LinearKind, input: Operand<FloatBuffer>, inCols: Int, outCols: Int, rows: Int, batch: Int,
                output: Operand<FloatBuffer>) {
        let inPtr = input.buffer.pointer + input.offset, outPtr = output.buffer.pointer + output.offset
        if let hooks, hooks.linear(kind, layer: layer, input: view(input, channels: inCols, batch: batch), output: outPtr, ldOut: output.ld) {
            return
        }
        weight(kind).withUnsafeBufferPointer { w in
            BLAS.sgemm(transB: true, m: rows, n: outCols, k: inCols, a: inPtr, lda: input.ld, b: w.baseAddress!, ldb: inCols,
                       c: outPtr, ldc: output.ld, runner: runner)
        }
    }

    func convForward(_ dir: ScanDirection, xz: FloatBuffer, pre: FloatBuffer, xc: FloatBuffer, batch: Int) {
        let E = config.dInner
        weights[dir].convBias.withUnsafeBufferPointer { bias in
            CausalConv1d.forward(batch: batch, length: config.seqLen, channels: E, taps: config.dConv, x: xz.ptr, ldx: 2 * E,
                                 wT: prepared[dir.rawValue].convWT.ptr, bias: bias.baseAddress!, reverse: dir == .backward,
                                 out: pre.pointer, silu: xc.pointer, runner: runner)
        }
    }

    func biasSoftplus(_ dir: ScanDirection, v: FloatBuffer, delta: FloatBuffer, rows: Int, batch: Int,
                      observeOthers: () throws -> Void) throws {
        let E = config.dInner
        weights[dir].dtBias.withUnsafeBufferPointer { bias in
            let bp = bias.baseAddress!
            runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
                for r in range { let vr = v.pointer + r * E; for e in 0..<E { vr[e] += bp[e] } }
            }
        }
        let point = ActivationPoint(.delta, dir), vView = view(Operand(buffer: v, ld: E), channels: E, batch: batch)
        if let hooks, hooks.deltaSoftplus(point, layer: layer, vView, delta: delta.pointer, ldDelta: E) {
            try observeOthers()
            return
        }
        hooks?.activation(point, layer: layer, vView)
        try observeOthers()
        runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
            Elementwise.softplus(range.count * E, v.ptr + range.lowerBound * E, delta.pointer + range.lowerBound * E)
        }
    }

    func scanForward(_ dir: ScanDirection, xc: FloatBuffer, delta: FloatBuffer, xdbl: FloatBuffer, y: FloatBuffer, batch: Int,
                     keepStates: Bool) -> FloatBuffer? {
        let c = config, E = c.dInner, N = c.dState, R = c.dtRank
        // Every path of the scan writes every state: zero-filling them first cost 4 % of Gen.
        let states = keepStates ? FloatBuffer(uninitialized: batch * c.seqLen * N * E) : nil
        weights[dir].d.withUnsafeBufferPointer { dp in
            SelectiveScan.forward(shape: .init(batch: batch, length: c.seqLen, channels: E, state: N),
                                  u: xc.ptr, delta: delta.ptr, a2T: prepared[dir.rawValue].a2T.ptr,
                                  bc: .init(base: xdbl.ptr, ld: R + 2 * N, bOffset: R, cOffset: R + N),
                                  d: dp.baseAddress!, reverse: dir == .backward, y: y.pointer, states: states?.pointer, runner: runner)
        }
        return states
    }

    func gateForward(yForward: FloatBuffer, yBackward: FloatBuffer, xz: FloatBuffer, m: FloatBuffer, rows: Int) {
        let E = config.dInner, zBase = xz.ptr + E
        runner.forEachChunk(rows, chunks: min(rows, 64)) { range in
            let r = range.lowerBound
            Elementwise.gate(rows: range.count, channels: E, yForward: yForward.ptr + r * E, yBackward: yBackward.ptr + r * E, ldy: E,
                             z: zBase + r * 2 * E, ldz: 2 * E, m: m.pointer + r * E, ldm: E)
        }
    }
}
