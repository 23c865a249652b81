import OuroSupport
import OuroEngine

/// The CPU backend of `ModelGraph` for one pass: host buffers, OpenBLAS and the engine's
/// kernels, with the pass's forward hooks (each layer's `Mixer`) and loss hook.
struct HostModelBackend: ModelBackend {
    typealias Buffer = FloatBuffer
    let model: VisionMamba
    let runner: ParallelRunner
    var hooks: ForwardHooks? = nil
    var layerHook: BackwardLayerHook? = nil
    /// Keep every layer's forward tensors for the backward when they fit (see `VisionMamba.backward`).
    var cacheBudgetBytes = 0

    var config: VisionMambaConfig { model.config }
    private var weights: VisionMambaWeights { model.weights }

    func keepsInternals(batch: Int) -> Bool {
        let c = config, rows = batch * c.seqLen, E = c.dInner, N = c.dState, D = c.embedDim, xw = c.dtRank + 2 * N
        let perLayerBytes = 4 * rows * (2 * E + 2 * (5 * E + xw + N * E) + 2 * E + 2 * D)
        return perLayerBytes * c.depth <= cacheBudgetBytes
    }

    func allocate(_ count: Int) -> FloatBuffer { FloatBuffer(uninitialized: count) }
    func copy(_ src: FloatBuffer, into dst: FloatBuffer, count: Int) { dst.pointer.update(from: src.ptr, count: count) }
    func add(_ src: FloatBuffer, into dst: FloatBuffer, count: Int) { for i in 0..<count { dst.pointer[i] += src.pointer[i] } }

    func embed(_ x: Tensor) -> FloatBuffer { model.embed(x, runner: runner, perImage: hooks?.perImageFloatGEMMs ?? false) }

    func layer(_ l: Int, keep: Bool) -> Mixer {
        var m = Mixer(config: config, weights: weights.layers[l], prepared: model.prepared[l], layer: l, runner: runner)
        m.hooks = hooks
        return m
    }

    func norm(_ l: Int, _ x: FloatBuffer, rows: Int, keepRstd: Bool, in layer: Mixer) -> (out: FloatBuffer, rstd: FloatBuffer?) {
        let rstd = keepRstd ? FloatBuffer(zeros: rows) : nil
        return (model.norm(weights.layers[l].normWeight, x, rows: rows, rstd: rstd, runner: runner), rstd)
    }

    func normBackward(_ l: Int, x: FloatBuffer, rstd: FloatBuffer, gy: FloatBuffer, gx: FloatBuffer, rows: Int,
                      weightGradient: Bool) -> [Float]? {
        let D = config.embedDim
        var gNorm = [Float](repeating: 0, count: D)
        weights.layers[l].normWeight.withUnsafeBufferPointer { w in
            gNorm.withUnsafeMutableBufferPointer { gw in
                RMSNorm.backward(rows: rows, d: D, x: x.ptr, weight: w.baseAddress!, rstd: rstd.ptr, gy: gy.ptr, gx: gx.pointer,
                                 accumulate: true, gw: weightGradient ? gw.baseAddress : nil, runner: runner)
            }
        }
        return weightGradient ? gNorm : nil
    }

    func head(_ res: FloatBuffer, batch: Int) -> (features: Tensor?, logits: Tensor) {
        let (feat, logits) = model.head(final: res, batch: batch, runner: runner, perImage: hooks?.perImageFloatGEMMs ?? false)
        return (feat, logits)
    }

    func headBackward(_ res: FloatBuffer, batch B: Int, gLogits: Tensor, grads: inout VisionMambaWeights?) -> FloatBuffer {
        let c = config, D = c.embedDim, L = c.seqLen, K = c.numClasses, ci = c.clsIndex
        // norm_f on the cls rows again, keeping its rstd.
        let cls = FloatBuffer(zeros: B * D)
        for b in 0..<B { (cls.pointer + b * D).update(from: res.ptr + (b * L + ci) * D, count: D) }
        let rstdF = FloatBuffer(zeros: B)
        let feat = model.norm(weights.normF, cls, rows: B, rstd: rstdF, runner: runner)
        let gFeat = FloatBuffer(zeros: B * D)
        gLogits.data.withUnsafeBufferPointer { gl in
            weights.headWeight.withUnsafeBufferPointer { hw in
                BLAS.sgemm(m: B, n: D, k: K, a: gl.baseAddress!, lda: K, b: hw.baseAddress!, ldb: D, c: gFeat.pointer, ldc: D, runner: runner)
            }
            if grads != nil {
                grads!.headWeight.withUnsafeMutableBufferPointer { g in
                    BLAS.sgemm(transA: true, m: K, n: D, k: B, a: gl.baseAddress!, lda: K, b: feat.ptr, ldb: D, c: g.baseAddress!, ldc: D, runner: runner)
                }
                for b in 0..<B { for k in 0..<K { grads!.headBias[k] += gl[b * K + k] } }
            }
        }
        let gCls = FloatBuffer(zeros: B * D)
        var gNormF = [Float](repeating: 0, count: D)
        weights.normF.withUnsafeBufferPointer { w in
            gNormF.withUnsafeMutableBufferPointer { gw in
                RMSNorm.backward(rows: B, d: D, x: cls.ptr, weight: w.baseAddress!, rstd: rstdF.ptr, gy: gFeat.ptr,
                                 gx: gCls.pointer, accumulate: false, gw: gw.baseAddress, runner: runner)
            }
        }
        if grads != nil { grads!.normF = gNormF }
        let gRes = FloatBuffer(zeros: B * L * D)
        for b in 0..<B { (gRes.pointer + (b * L + ci) * D).update(from: gCls.ptr + b * D, count: D) }
        return gRes
    }

    func lossExtras(_ l: Int, _ a: MixerTensors<FloatBuffer>, gHidden: FloatBuffer, in layer: Mixer) -> [DirectionExtras<FloatBuffer>] {
        let extra = layerHook?.layerBackward(layer: l, internals: MixerInternals(a, length: config.seqLen), gHidden: gHidden)
        return ScanDirection.allCases.map { d in
            let e = extra?[d.rawValue] ?? nil
            return DirectionExtras(states: e?.states, c: e?.c, delta: e?.delta)
        }
    }

    func embedBackward(_ gRes: FloatBuffer, x: Tensor, grads: inout VisionMambaWeights?) -> Tensor {
        let c = config, B = x.shape[0], L = c.seqLen, D = c.embedDim, M = c.numPatches, ci = c.clsIndex, cDim = c.patchDim
        // cls insertion, pos_embed and the patch embedding.
        let gT = FloatBuffer(zeros: B * M * D)
        for b in 0..<B {
            for t in 0..<L where t != ci {
                let p = t < ci ? t : t - 1
                (gT.pointer + (b * M + p) * D).update(from: gRes.ptr + (b * L + t) * D, count: D)
            }
        }
        if grads != nil {
            for b in 0..<B {
                for i in 0..<(L * D) { grads!.posEmbed[i] += gRes.pointer[b * L * D + i] }
                for d in 0..<D { grads!.clsToken[d] += gRes.pointer[(b * L + ci) * D + d] }
            }
            let cols = model.unfold(x)
            grads!.patchWeight.withUnsafeMutableBufferPointer { g in
                BLAS.sgemm(transA: true, m: D, n: cDim, k: B * M, a: gT.ptr, lda: D, b: cols.ptr, ldb: cDim, c: g.baseAddress!, ldc: cDim, runner: runner)
            }
            for r in 0..<(B * M) { for d in 0..<D { grads!.patchBias[d] += gT.pointer[r * D + d] } }
        }
        let gCols = FloatBuffer(zeros: B * M * cDim)
        weights.patchWeight.withUnsafeBufferPointer { w in
            BLAS.sgemm(m: B * M, n: cDim, k: D, a: gT.ptr, lda: D, b: w.baseAddress!, ldb: cDim, c: gCols.pointer, ldc: cDim, runner: runner)
        }
        return model.fold(gCols, shape: x.shape)
    }
}

extension MixerInternals {
    /// The host tensors of a mixer pass, in the public internals type.
    convenience init(_ t: MixerTensors<FloatBuffer>, length: Int) {
        self.init(batch: t.batch, length: length, normed: t.normed, xz: t.xz, directions: t.dirs.map {
            DirectionInternals(pre: $0.pre, xc: $0.xc, xdbl: $0.xdbl, v: $0.v, delta: $0.delta, y: $0.y, states: $0.states)
        }, m: t.m, out: t.out)
    }
}
