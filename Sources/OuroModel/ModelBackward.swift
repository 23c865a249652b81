import OuroEngine

/// Lets a loss act on layer internals during the backward pass (the generator's hook).
public protocol BackwardLayerHook: AnyObject {
    /// Called after layer `layer` was recomputed, before its mixer backward. `gHidden` is the
    /// gradient on the layer's mixer output (B·L, D) and may be added to. Returns extra
    /// gradients on the internals of each direction (index `ScanDirection.rawValue`), or nil.
    func layerBackward(layer: Int, internals: MixerInternals, gHidden: FloatBuffer) -> [DirectionExtraGradients?]?
}

extension VisionMamba {
    /// Result of a backward pass.
    public struct BackwardResult {
        public var logits: Tensor
        /// ∂loss/∂input, shape of the input.
        public var inputGradient: Tensor
        /// ∂loss/∂parameters (official names via `forEachParameter`), when requested.
        public var parameterGradients: VisionMambaWeights?
    }

    /// Forward plus hand-written backward (`vim-architecture.md` §6–7).
    ///
    /// Only each layer's input residual is kept during the forward; every layer is recomputed
    /// (with its scan states) during the backward and discarded after, so memory is bounded
    /// by one layer's internals. `lossGradient` maps the logits to ∂loss/∂logits.
    /// Layer internals are kept from the forward pass instead of recomputed when all layers
    /// fit in `cacheBudgetBytes` (small models, e.g. training on 28×28); otherwise only the
    /// residual stream is kept and each layer is recomputed (bounded memory for 224×224).
    public func backward(_ x: Tensor, parameters: Bool, layerHook: BackwardLayerHook? = nil,
                         threads: Int = Hardware.cores, cacheBudgetBytes: Int = 768 << 20,
                         lossGradient: (Tensor) throws -> Tensor) throws -> BackwardResult {
        try checkInput(x)
        let runner = ParallelRunner(threads: threads)
        let c = config, B = x.shape[0], L = c.seqLen, D = c.embedDim, rows = B * L, M = c.numPatches, ci = c.clsIndex
        let E = c.dInner, N = c.dState, xw = c.dtRank + 2 * N
        let perLayerBytes = 4 * rows * (2 * E + 2 * (5 * E + xw + N * E) + 2 * E + 2 * D)
        let cache = perLayerBytes * c.depth <= cacheBudgetBytes
        var cached: [(internals: MixerInternals, rstd: FloatBuffer)] = []
        // Forward, keeping the residual entering each layer (and the internals when cached).
        var residuals: [FloatBuffer] = []
        let res = embed(x, runner: runner)
        var h: FloatBuffer? = nil
        for l in 0..<c.depth {
            if let h { for i in 0..<(rows * D) { res.pointer[i] += h.pointer[i] } }
            let saved = FloatBuffer(zeros: rows * D)
            saved.pointer.update(from: res.ptr, count: rows * D)
            residuals.append(saved)
            let rstd = cache ? FloatBuffer(zeros: rows) : nil
            let normed = norm(weights.layers[l].normWeight, res, rows: rows, rstd: rstd, runner: runner)
            let internals = mixer(l, runner: runner).forward(normed: normed, batch: B, keepStates: cache, hooks: nil)
            if let rstd { cached.append((internals, rstd)) }
            h = internals.out
        }
        if let h { for i in 0..<(rows * D) { res.pointer[i] += h.pointer[i] } }
        let (_, logits) = head(final: res, batch: B, runner: runner)
        let gLogits = try lossGradient(logits)
        guard gLogits.shape == logits.shape else {
            throw ModelError("backward: loss gradient has shape \(gLogits.shape), expected \(logits.shape)")
        }
        var grads = parameters ? VisionMambaWeights(zerosFor: c) : nil

        // Head and norm_f (cls rows only).
        let K = c.numClasses
        let cls = FloatBuffer(zeros: B * D)
        for b in 0..<B { (cls.pointer + b * D).update(from: res.ptr + (b * L + ci) * D, count: D) }
        let rstdF = FloatBuffer(zeros: B)
        let feat = norm(weights.normF, cls, rows: B, rstd: rstdF, runner: runner)
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
        let gRes = FloatBuffer(zeros: rows * D)
        for b in 0..<B { (gRes.pointer + (b * L + ci) * D).update(from: gCls.ptr + b * D, count: D) }

        // Layers, last to first, each recomputed with its states.
        for l in stride(from: c.depth - 1, through: 0, by: -1) {
            let lw = weights.layers[l]
            let mx = mixer(l, runner: runner)
            let internals: MixerInternals, rstd: FloatBuffer
            if cache {
                (internals, rstd) = cached[l]
            } else {
                rstd = FloatBuffer(zeros: rows)
                let normed = norm(lw.normWeight, residuals[l], rows: rows, rstd: rstd, runner: runner)
                internals = mx.forward(normed: normed, batch: B, keepStates: true, hooks: nil)
            }
            let gH = FloatBuffer(zeros: rows * D)
            gH.pointer.update(from: gRes.ptr, count: rows * D)
            let extra = layerHook?.layerBackward(layer: l, internals: internals, gHidden: gH)
            var layerGrads = grads?.layers[l]
            let gNormed: FloatBuffer
            if layerGrads != nil {
                gNormed = withUnsafeMutablePointer(to: &layerGrads!) { mx.backward(internals, gOut: gH, extra: extra, grads: $0) }
            } else {
                gNormed = mx.backward(internals, gOut: gH, extra: extra, grads: nil)
            }
            var gNorm = [Float](repeating: 0, count: D)
            lw.normWeight.withUnsafeBufferPointer { w in
                gNorm.withUnsafeMutableBufferPointer { gw in
                    RMSNorm.backward(rows: rows, d: D, x: residuals[l].ptr, weight: w.baseAddress!, rstd: rstd.ptr,
                                     gy: gNormed.ptr, gx: gRes.pointer, accumulate: true,
                                     gw: layerGrads == nil ? nil : gw.baseAddress, runner: runner)
                }
            }
            if var lg = layerGrads { lg.normWeight = gNorm; grads!.layers[l] = lg }
            residuals[l] = FloatBuffer(zeros: 0)   // free as we go
            if cache { cached.removeLast() }
        }

        // cls insertion, pos_embed and the patch embedding.
        let cDim = c.patchDim
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
            let cols = unfold(x)
            grads!.patchWeight.withUnsafeMutableBufferPointer { g in
                BLAS.sgemm(transA: true, m: D, n: cDim, k: B * M, a: gT.ptr, lda: D, b: cols.ptr, ldb: cDim, c: g.baseAddress!, ldc: cDim, runner: runner)
            }
            for r in 0..<(B * M) { for d in 0..<D { grads!.patchBias[d] += gT.pointer[r * D + d] } }
        }
        let gCols = FloatBuffer(zeros: B * M * cDim)
        weights.patchWeight.withUnsafeBufferPointer { w in
            BLAS.sgemm(m: B * M, n: cDim, k: D, a: gT.ptr, lda: D, b: w.baseAddress!, ldb: cDim, c: gCols.pointer, ldc: cDim, runner: runner)
        }
        let gx = fold(gCols, shape: x.shape)
        return BackwardResult(logits: logits, inputGradient: gx, parameterGradients: grads)
    }
}
