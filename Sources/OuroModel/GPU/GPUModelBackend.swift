import OuroEngine

/// The device backend of `ModelGraph` for one pass of a `GPUVisionMamba`: the residual stream
/// and gradients in device buffers of their own, each layer's tensors in the model's scratch
/// arena (reset per layer) or, when kept for the backward, in that layer's cache arena.
final class GPUModelBackend: ModelBackend {
    typealias Buffer = GPUBuffer
    let model: GPUVisionMamba
    let observer: GPUVisionMamba.Observer?
    let layerHook: BackwardLayerHook?
    let gpuHook: GPUBackwardLayerHook?

    init(model: GPUVisionMamba, observer: GPUVisionMamba.Observer? = nil, layerHook: BackwardLayerHook? = nil,
         gpuHook: GPUBackwardLayerHook? = nil) {
        self.model = model; self.observer = observer; self.layerHook = layerHook; self.gpuHook = gpuHook
    }

    var config: VisionMambaConfig { model.config }
    private var device: GPUDevice { model.device }
    private var ops: GPUOps { model.ops }
    private var arena: GPUArena { model.arena }
    private func fetch(_ b: GPUBuffer, _ n: Int) throws -> [Float] { try device.download(b, floatOffset: 0, count: n) }

    func keepsInternals(batch: Int) -> Bool {
        let c = config, rows = batch * c.seqLen, D = c.embedDim, E = c.dInner, N = c.dState, xw = c.dtRank + 2 * N
        let perLayer = 4 * rows * (2 * D + 3 * E + 2 * (5 * E + xw + N * E) + 1)
        return perLayer * c.depth <= model.cacheBudget
    }

    func allocate(_ count: Int) throws -> GPUBuffer { try device.floats(count) }

    func copy(_ src: GPUBuffer, into dst: GPUBuffer, count: Int) throws {
        try ops.copy(count: count, dst: dst.address, src: src.address)
    }

    func add(_ src: GPUBuffer, into dst: GPUBuffer, count: Int) throws {
        try ops.add(count: count, dst: dst.address, src: src.address)
    }

    func embed(_ x: Tensor) throws -> GPUBuffer {
        let res = try device.floats(x.shape[0] * config.seqLen * config.embedDim)
        arena.reset()
        try model.embed(x, into: res)
        return res
    }

    func layer(_ l: Int, keep: Bool) throws -> GPUMixerBackend {
        arena.reset()
        var scratch = arena
        if keep {
            while model.layerCaches.count <= l { model.layerCaches.append(GPUArena(device: device)) }
            scratch = model.layerCaches[l]
            scratch.reset()
        }
        return GPUMixerBackend(model: model, layer: l, arena: scratch, observer: observer)
    }

    func norm(_ l: Int, _ x: GPUBuffer, rows: Int, keepRstd: Bool, in layer: GPUMixerBackend) throws -> (out: GPUBuffer, rstd: GPUBuffer?) {
        let D = config.embedDim
        let out = try layer.arena.floats(rows * D), rstd = keepRstd ? try layer.arena.floats(rows) : nil
        try ops.rmsNormForward(rows: rows, d: D, x: x.address, weight: model.layers[l].norm, eps: config.normEps, out: out.address, rstd: rstd)
        return (out, rstd)
    }

    func normBackward(_ l: Int, x: GPUBuffer, rstd: GPUBuffer, gy: GPUBuffer, gx: GPUBuffer, rows: Int, weightGradient: Bool) throws -> [Float]? {
        let D = config.embedDim, w = model.layers[l].norm
        var gNorm: [Float]?
        if weightGradient {
            let g = try arena.floats(D)
            try ops.rmsNormWeightGradient(rows: rows, d: D, x: x.address, rstd: rstd, gy: gy.address, gw: g)
            gNorm = try fetch(g, D)
        }
        try ops.rmsNormBackward(rows: rows, d: D, x: x.address, weight: w, rstd: rstd, gy: gy.address, gx: gx.address, accumulate: true)
        return gNorm
    }

    func head(_ res: GPUBuffer, batch: Int) throws -> (features: Tensor?, logits: Tensor) {
        arena.reset()
        return (nil, try model.head(res, batch: batch, rstd: nil).logits)
    }

    func headBackward(_ res: GPUBuffer, batch B: Int, gLogits gLogitsHost: Tensor, grads: inout VisionMambaWeights?) throws -> GPUBuffer {
        let c = config, D = c.embedDim, K = c.numClasses
        // norm_f on the cls rows again, keeping its rstd.
        arena.reset()
        let rstdF = try arena.floats(B)
        let h = try model.head(res, batch: B, rstd: rstdF)
        let gLogits = try arena.floats(B * K)
        try device.upload(gLogitsHost.data, to: gLogits)
        let gFeat = try arena.floats(B * D), gCls = try arena.floats(B * D)
        try device.sgemm(transA: false, transB: false, m: B, n: D, k: K, alpha: 1, a: gLogits.address, lda: K,
                         b: model.headWeight.address, ldb: D, beta: 0, c: gFeat.address, ldc: D)
        try ops.rmsNormBackward(rows: B, d: D, x: h.cls.address, weight: model.normF, rstd: rstdF, gy: gFeat.address, gx: gCls.address,
                                accumulate: false)
        if grads != nil {
            let gHead = try arena.floats(K * D), gHeadBias = try arena.floats(K), gNormF = try arena.floats(D)
            try device.sgemm(transA: true, transB: false, m: K, n: D, k: B, alpha: 1, a: gLogits.address, lda: K,
                             b: h.feat.address, ldb: D, beta: 0, c: gHead.address, ldc: D)
            try ops.columnSums(rows: B, cols: K, x: gLogits.address, ld: K, out: gHeadBias)
            try ops.rmsNormWeightGradient(rows: B, d: D, x: h.cls.address, rstd: rstdF, gy: gFeat.address, gw: gNormF)
            grads!.headWeight = try fetch(gHead, K * D); grads!.headBias = try fetch(gHeadBias, K); grads!.normF = try fetch(gNormF, D)
        }
        let gRes = try device.zeros(B * c.seqLen * D)
        try model.module("ouro_cls_rows", threads: B * D, [.floats(gCls), .floats(gRes), .i(B), .i(c.seqLen), .i(D), .i(c.clsIndex), .i(1)])
        return gRes
    }

    /// `gpuHook` runs on the device tensors; `layerHook` on host copies, its gradients uploaded.
    func lossExtras(_ l: Int, _ a: MixerTensors<GPUBuffer>, gHidden gH: GPUBuffer, in layer: GPUMixerBackend) throws -> [DirectionExtras<GPUBuffer>] {
        var extras = [DirectionExtras<GPUBuffer>](repeating: DirectionExtras(), count: 2)
        let rows = a.batch * config.seqLen, D = config.embedDim
        if let gpuHook {
            let view = GPULayerInternals(batch: a.batch, out: a.out, xdbl: a.dirs.map { $0.xdbl }, delta: a.dirs.map { $0.delta },
                                         states: a.dirs.map { $0.states! })
            if let ex = try gpuHook.layerBackward(layer: l, internals: view, gHidden: gH, arena: arena) {
                for (i, e) in ex.enumerated() { if let e { extras[i] = DirectionExtras(states: e.states, c: e.c, delta: e.delta) } }
            }
        } else if let layerHook {
            let host = try model.hostInternals(a)
            let gHost = FloatBuffer(uninitialized: rows * D)
            try device.download(gH, offset: 0, bytes: 4 * rows * D, to: gHost.pointer)
            let ex = layerHook.layerBackward(layer: l, internals: host, gHidden: gHost)
            try device.upload(gHost.ptr, count: rows * D, to: gH)
            for (i, e) in (ex ?? []).enumerated() {
                guard let e else { continue }
                extras[i] = DirectionExtras(states: try e.states.map(upload), c: try e.c.map(upload), delta: try e.delta.map(upload))
            }
        }
        return extras
    }

    private func upload(_ b: FloatBuffer) throws -> GPUBuffer {
        let d = try arena.floats(b.count)
        try device.upload(b.ptr, count: b.count, to: d)
        return d
    }

    func embedBackward(_ gRes: GPUBuffer, x: Tensor, grads: inout VisionMambaWeights?) throws -> Tensor {
        let c = config, B = x.shape[0], L = c.seqLen, D = c.embedDim, M = c.numPatches, ci = c.clsIndex, P = c.patchDim
        // Patch embedding: gCols = gT · W_patch, folded back to pixels on the host.
        arena.reset()
        let gT = try arena.floats(B * M * D), gCols = try arena.floats(B * M * P)
        try model.module("ouro_embed_gather_grad", threads: B * M * D, [.floats(gRes), .floats(gT), .i(B), .i(L), .i(M), .i(D), .i(ci)])
        try device.sgemm(transA: false, transB: false, m: B * M, n: P, k: D, alpha: 1, a: gT.address, lda: D,
                         b: model.patchWeight.address, ldb: P, beta: 0, c: gCols.address, ldc: P)
        let colsHost = FloatBuffer(uninitialized: B * M * P)
        try device.download(gCols, offset: 0, bytes: 4 * B * M * P, to: colsHost.pointer)
        if grads != nil {
            let gPos = try arena.floats(L * D), gCls = try arena.floats(D), gPatchBias = try arena.floats(D)
            let gPatch = try arena.floats(D * P), cols = try arena.floats(B * M * P)
            try ops.columnSums(rows: B, cols: L * D, x: gRes.address, ld: L * D, out: gPos)
            try ops.columnSums(rows: B, cols: D, x: gRes.at(ci * D), ld: L * D, out: gCls)
            try ops.columnSums(rows: B * M, cols: D, x: gT.address, ld: D, out: gPatchBias)
            let unfolded = model.current.unfold(x)
            try device.upload(unfolded.ptr, count: B * M * P, to: cols)
            try device.sgemm(transA: true, transB: false, m: D, n: P, k: B * M, alpha: 1, a: gT.address, lda: D,
                             b: cols.address, ldb: P, beta: 0, c: gPatch.address, ldc: P)
            grads!.posEmbed = try fetch(gPos, L * D); grads!.clsToken = try fetch(gCls, D)
            grads!.patchBias = try fetch(gPatchBias, D); grads!.patchWeight = try fetch(gPatch, D * P)
        }
        return model.current.fold(colsHost, shape: x.shape)
    }
}
