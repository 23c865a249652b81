import Foundation
import OuroEngine

/// A Vision Mamba model resident on a `GPUDevice`: the same graph as `VisionMamba` (forward,
/// and the backward to the input and, on request, to every parameter), with GEMMs through the
/// device's sgemm and every other op a GPU kernel. Loss hooks (`BackwardLayerHook`) and observing forward hooks run on the host
/// on downloaded copies of a layer's internals, so the generator and calibration code is
/// shared with the CPU path, not duplicated. One instance serves one caller at a time
/// (its scratch arena is reused by every pass).
public final class GPUVisionMamba: @unchecked Sendable {
    public let model: VisionMamba
    public let device: GPUDevice
    let ops: GPUOps

    struct Direction { let convWT, convBias, xProj, dtProj, dtBias, a, d: GPUBuffer }
    struct Layer { let norm, inProj, outProj: GPUBuffer; let dirs: [Direction] }
    let patchWeight, patchBias, clsToken, posEmbed, normF, headWeight, headBias: GPUBuffer
    let layers: [Layer]
    /// Scratch of one layer (reset per layer).
    let arena: GPUArena
    /// Per-layer storage of the forward internals when a backward pass keeps them (see
    /// `cacheBudgetBytes`); kept between calls so their memory is reused.
    private var layerCaches: [GPUArena] = []
    /// Largest total size of kept layer internals: below it the backward reuses the forward's
    /// internals, above it every layer is recomputed (bounded memory, like the CPU model).
    /// 24 GiB keeps vim-tiny-shape blocks of 64 on an 80 GB card with room for the rest.
    public var cacheBudgetBytes = 24 << 30

    /// Uploads the weights (A = −exp(A_log) and the transposed conv taps are derived once).
    public init(model: VisionMamba, device: GPUDevice) throws {
        self.model = model; self.device = device; ops = GPUOps(device: device)
        let c = model.config, w = model.weights, E = c.dInner, N = c.dState, K = c.dConv
        patchWeight = try device.upload(w.patchWeight); patchBias = try device.upload(w.patchBias)
        clsToken = try device.upload(w.clsToken); posEmbed = try device.upload(w.posEmbed)
        normF = try device.upload(w.normF); headWeight = try device.upload(w.headWeight); headBias = try device.upload(w.headBias)
        layers = try w.layers.map { lw in
            let dirs = try ScanDirection.allCases.map { dir -> Direction in
                let dw = lw[dir], p = PreparedDirection(dw, E: E, N: N, K: K)
                var a = [Float](repeating: 0, count: E * N)
                for e in 0..<E { for n in 0..<N { a[e * N + n] = p.aT.pointer[n * E + e] } }
                return Direction(convWT: try device.upload(p.convWT.array), convBias: try device.upload(dw.convBias),
                                 xProj: try device.upload(dw.xProj), dtProj: try device.upload(dw.dtProj),
                                 dtBias: try device.upload(dw.dtBias), a: try device.upload(a), d: try device.upload(dw.d))
            }
            return Layer(norm: try device.upload(lw.normWeight), inProj: try device.upload(lw.inProj),
                         outProj: try device.upload(lw.outProj), dirs: dirs)
        }
        arena = GPUArena(device: device)
    }

    var config: VisionMambaConfig { model.config }

    /// The CUDA C module of the model's layout kernels (for compile checks).
    public static var kernelModule: GPUModuleSource { GPUModelKernels.module }

    private func module(_ name: String, threads: Int, _ args: [GPUArg]) throws {
        try device.launch(name, in: GPUModelKernels.module, threads: threads, args: args)
    }

    // MARK: - Forward pieces

    /// Patch embedding, cls and pos_embed: the residual stream (B·L, D) in `out`.
    func embed(_ x: Tensor, into out: GPUBuffer) throws {
        let c = config, B = x.shape[0], M = c.numPatches, D = c.embedDim, L = c.seqLen
        let cols = model.unfold(x)
        let dc = try arena.floats(B * M * c.patchDim)
        try device.upload(cols.ptr, count: B * M * c.patchDim, to: dc)
        let tokens = try arena.floats(B * M * D)
        try device.sgemm(transA: false, transB: true, m: B * M, n: D, k: c.patchDim, alpha: 1, a: dc.address, lda: c.patchDim,
                         b: patchWeight.address, ldb: c.patchDim, beta: 0, c: tokens.address, ldc: D)
        try module("ouro_embed_assemble", threads: B * L * D,
                   [.floats(tokens), .floats(patchBias), .floats(clsToken), .floats(posEmbed), .floats(out),
                    .i(B), .i(L), .i(M), .i(D), .i(c.clsIndex)])
    }

    /// One layer's mixer internals on the device.
    typealias Internals = MixerTensors<GPUBuffer>

    /// Who sees the activation points of a forward: host hooks (on copies) or a device observer.
    enum Observer {
        case host(ForwardHooks)
        case device(GPUForwardObserver)
    }

    /// The mixer of layer `l` on `normed` (`MixerGraph` on the device), its tensors in `scratch`
    /// (default: the per-layer arena); `observe` sees each activation point.
    func mixer(_ l: Int, normed: GPUBuffer, batch: Int, keepStates: Bool, observe: Observer?,
               in scratch: GPUArena? = nil) throws -> Internals {
        let backend = GPUMixerBackend(model: self, layer: l, arena: scratch ?? arena, observer: observe)
        return try MixerGraph(backend: backend).forward(normed: normed, batch: batch, keepStates: keepStates)
    }

    /// Hands an activation point to the observer: device buffers as they are, or a host copy.
    func offer(_ observer: Observer, _ point: ActivationPoint, layer: Int, _ src: GPUBuffer, offset: Int,
               ld: Int, channels: Int, batch: Int, arena: GPUArena) throws {
        switch observer {
        case .device(let o):
            try o.activation(point, layer: layer, GPUActivationView(buffer: src, offset: offset, ld: ld, channels: channels,
                                                                    batch: batch, length: config.seqLen), arena: arena)
        case .host(let hooks):
            let rows = batch * config.seqLen
            let host = FloatBuffer(uninitialized: rows * ld)
            try device.download(src, offset: 0, bytes: 4 * rows * ld, to: host.pointer)
            hooks.activation(point, layer: layer, ActivationView(values: host.pointer + offset, ld: ld, channels: channels,
                                                                 batch: batch, length: config.seqLen))
        }
    }

    // MARK: - Forward

    /// Logits (B, classes) of `x`. `observe` hooks (calibration) see host copies of every
    /// activation point; hooks that rewrite activations or linears are CPU-only and refused.
    public func logits(_ x: Tensor, observe: ForwardHooks? = nil) throws -> Tensor {
        if let observe, observe.modifiesLinearInputs {
            throw ModelError("the GPU forward only supports observing hooks; quantized (fake or integer) inference runs on the CPU")
        }
        return try logits(x, observer: observe.map { .host($0) })
    }

    /// Logits of `x` with `observer` seeing every activation point on the device (no copies).
    public func logits(_ x: Tensor, observeOnDevice observer: GPUForwardObserver) throws -> Tensor {
        try logits(x, observer: .device(observer))
    }

    private func logits(_ x: Tensor, observer observe: Observer?) throws -> Tensor {
        try model.checkInput(x)
        let c = config, B = x.shape[0], L = c.seqLen, D = c.embedDim, rows = B * L
        let res = try device.floats(rows * D)
        arena.reset()
        try embed(x, into: res)
        for l in 0..<c.depth {
            arena.reset()
            let normed = try arena.floats(rows * D)
            try ops.rmsNormForward(rows: rows, d: D, x: res.address, weight: layers[l].norm, eps: c.normEps, out: normed.address, rstd: nil)
            let a = try mixer(l, normed: normed, batch: B, keepStates: false, observe: observe)
            try ops.add(count: rows * D, dst: res.address, src: a.out.address)
        }
        arena.reset()
        return try head(res, batch: B, rstd: nil).logits
    }

    /// norm_f on the cls rows and the classifier: (cls rows, features, logits on the host).
    private func head(_ res: GPUBuffer, batch B: Int, rstd: GPUBuffer?) throws -> (cls: GPUBuffer, feat: GPUBuffer, logits: Tensor) {
        let c = config, D = c.embedDim, K = c.numClasses
        let cls = try arena.floats(B * D), feat = try arena.floats(B * D), logits = try arena.floats(B * K)
        try module("ouro_cls_rows", threads: B * D, [.floats(cls), .floats(res), .i(B), .i(c.seqLen), .i(D), .i(c.clsIndex), .i(0)])
        try ops.rmsNormForward(rows: B, d: D, x: cls.address, weight: normF, eps: c.normEps, out: feat.address, rstd: rstd)
        try device.sgemm(transA: false, transB: true, m: B, n: K, k: D, alpha: 1, a: feat.address, lda: D,
                         b: headWeight.address, ldb: D, beta: 0, c: logits.address, ldc: K)
        try module("ouro_add_row_bias", threads: B * K, [.floats(logits), .floats(headBias), .i(B), .i(K)])
        return (cls, feat, Tensor(shape: [B, K], data: try device.download(logits)))
    }

    // MARK: - Backward

    /// Forward plus the backward to the input, like `VisionMamba.backward(parameters: false)`.
    /// Each layer's internals are kept from the forward within `cacheBudgetBytes`, else
    /// recomputed with their states. `layerHook` runs on host copies of the layer's internals
    /// and its extra gradients are uploaded; `gpuHook`, when given, runs on the device buffers
    /// instead (no transfers).
    public func inputGradient(_ x: Tensor, layerHook: BackwardLayerHook? = nil, gpuHook: GPUBackwardLayerHook? = nil,
                              lossGradient: (Tensor) throws -> Tensor) throws -> (logits: Tensor, inputGradient: Tensor) {
        let r = try backward(x, parameters: false, layerHook: layerHook, gpuHook: gpuHook, lossGradient: lossGradient)
        return (r.logits, r.inputGradient)
    }

    /// Forward plus backward like `VisionMamba.backward`: the input gradient and, with
    /// `parameters`, every parameter's gradient (official names through `forEachParameter`),
    /// summed over the batch in a fixed order.
    public func backward(_ x: Tensor, parameters: Bool, layerHook: BackwardLayerHook? = nil, gpuHook: GPUBackwardLayerHook? = nil,
                         lossGradient: (Tensor) throws -> Tensor) throws -> VisionMamba.BackwardResult {
        try model.checkInput(x)
        let c = config, B = x.shape[0], L = c.seqLen, D = c.embedDim, rows = B * L, M = c.numPatches
        let E = c.dInner, N = c.dState, xw = c.dtRank + 2 * N, ci = c.clsIndex
        // Forward, keeping the residual entering each layer, and every layer's internals when
        // they fit the budget.
        let perLayer = 4 * rows * (2 * D + 3 * E + 2 * (5 * E + xw + N * E) + 1)
        let cache = perLayer * c.depth <= cacheBudgetBytes
        if cache { while layerCaches.count < c.depth { layerCaches.append(GPUArena(device: device)) } }
        var kept: [(internals: Internals, rstd: GPUBuffer)] = []
        let residuals = try (0...c.depth).map { _ in try device.floats(rows * D) }
        arena.reset()
        try embed(x, into: residuals[0])
        for l in 0..<c.depth {
            arena.reset()
            let scratch = cache ? layerCaches[l] : arena
            scratch.reset()
            let normed = try scratch.floats(rows * D), rstd = try scratch.floats(rows)
            try ops.rmsNormForward(rows: rows, d: D, x: residuals[l].address, weight: layers[l].norm, eps: c.normEps,
                                   out: normed.address, rstd: cache ? rstd : nil)
            let a = try mixer(l, normed: normed, batch: B, keepStates: cache, observe: nil, in: scratch)
            if cache { kept.append((a, rstd)) }
            try device.zero(residuals[l + 1], offset: 0, bytes: 4 * rows * D)
            try ops.add(count: rows * D, dst: residuals[l + 1].address, src: residuals[l].address)
            try ops.add(count: rows * D, dst: residuals[l + 1].address, src: a.out.address)
        }
        // Head and norm_f.
        arena.reset()
        let rstdF = try arena.floats(B)
        let h = try head(residuals[c.depth], batch: B, rstd: rstdF)
        let gLogitsHost = try lossGradient(h.logits)
        guard gLogitsHost.shape == h.logits.shape else {
            throw ModelError("backward: loss gradient has shape \(gLogitsHost.shape), expected \(h.logits.shape)")
        }
        let gLogits = try device.upload(gLogitsHost.data)
        let gFeat = try arena.floats(B * D), gCls = try arena.floats(B * D)
        try device.sgemm(transA: false, transB: false, m: B, n: D, k: c.numClasses, alpha: 1, a: gLogits.address, lda: c.numClasses,
                         b: headWeight.address, ldb: D, beta: 0, c: gFeat.address, ldc: D)
        try ops.rmsNormBackward(rows: B, d: D, x: h.cls.address, weight: normF, rstd: rstdF, gy: gFeat.address, gx: gCls.address,
                                accumulate: false)
        var grads = parameters ? VisionMambaWeights(zerosFor: c) : nil
        func fetch(_ b: GPUBuffer, _ n: Int) throws -> [Float] { try device.download(b, floatOffset: 0, count: n) }
        if grads != nil {
            let K = c.numClasses
            let gHead = try arena.floats(K * D), gHeadBias = try arena.floats(K), gNormF = try arena.floats(D)
            try device.sgemm(transA: true, transB: false, m: K, n: D, k: B, alpha: 1, a: gLogits.address, lda: K,
                             b: h.feat.address, ldb: D, beta: 0, c: gHead.address, ldc: D)
            try ops.columnSums(rows: B, cols: K, x: gLogits.address, ld: K, out: gHeadBias)
            try ops.rmsNormWeightGradient(rows: B, d: D, x: h.cls.address, rstd: rstdF, gy: gFeat.address, gw: gNormF)
            grads!.headWeight = try fetch(gHead, K * D); grads!.headBias = try fetch(gHeadBias, K); grads!.normF = try fetch(gNormF, D)
        }
        let gRes = try device.zeros(rows * D)
        try module("ouro_cls_rows", threads: B * D, [.floats(gCls), .floats(gRes), .i(B), .i(L), .i(D), .i(ci), .i(1)])

        for l in stride(from: c.depth - 1, through: 0, by: -1) {
            arena.reset()
            let lw = layers[l]
            let a: Internals, rstd: GPUBuffer
            if cache {
                (a, rstd) = kept[l]
            } else {
                let normed = try arena.floats(rows * D)
                rstd = try arena.floats(rows)
                try ops.rmsNormForward(rows: rows, d: D, x: residuals[l].address, weight: lw.norm, eps: c.normEps,
                                       out: normed.address, rstd: rstd)
                a = try mixer(l, normed: normed, batch: B, keepStates: true, observe: nil)
            }
            let gH = try arena.zeros(rows * D)
            try ops.add(count: rows * D, dst: gH.address, src: gRes.address)
            var extras: [(states: GPUBuffer?, c: GPUBuffer?, delta: GPUBuffer?)] = [(nil, nil, nil), (nil, nil, nil)]
            if let gpuHook {
                let view = GPULayerInternals(batch: B, out: a.out, xdbl: a.dirs.map { $0.xdbl }, delta: a.dirs.map { $0.delta },
                                             states: a.dirs.map { $0.states! })
                if let ex = try gpuHook.layerBackward(layer: l, internals: view, gHidden: gH, arena: arena) {
                    for (i, e) in ex.enumerated() { if let e { extras[i] = (e.states, e.c, e.delta) } }
                }
            } else if let layerHook {
                let host = try hostInternals(a, batch: B)
                let gHost = FloatBuffer(uninitialized: rows * D)
                try device.download(gH, offset: 0, bytes: 4 * rows * D, to: gHost.pointer)
                let ex = layerHook.layerBackward(layer: l, internals: host, gHidden: gHost)
                try device.upload(gHost.ptr, count: rows * D, to: gH)
                if let ex {
                    for (i, e) in ex.enumerated() {
                        guard let e else { continue }
                        extras[i] = (try e.states.map { try uploadArena($0) }, try e.c.map { try uploadArena($0) },
                                     try e.delta.map { try uploadArena($0) })
                    }
                }
            }
            // Mixer backward (`MixerGraph` on the device, scratch in the per-layer arena).
            var lg = grads?.layers[l]
            let backend = GPUMixerBackend(model: self, layer: l, arena: arena, observer: nil)
            let gNormed = try MixerGraph(backend: backend).backward(a, gOut: gH, extras: extras.map {
                DirectionExtras(states: $0.states, c: $0.c, delta: $0.delta)
            }, grads: &lg)
            if lg != nil {
                let gNorm = try arena.floats(D)
                try ops.rmsNormWeightGradient(rows: rows, d: D, x: residuals[l].address, rstd: rstd, gy: gNormed.address, gw: gNorm)
                lg!.normWeight = try fetch(gNorm, D)
                grads!.layers[l] = lg!
            }
            try ops.rmsNormBackward(rows: rows, d: D, x: residuals[l].address, weight: lw.norm, rstd: rstd, gy: gNormed.address,
                                    gx: gRes.address, accumulate: true)
        }
        // Patch embedding: gCols = gT · W_patch, folded back to pixels on the host.
        arena.reset()
        let gT = try arena.floats(B * M * D), gCols = try arena.floats(B * M * c.patchDim)
        try module("ouro_embed_gather_grad", threads: B * M * D, [.floats(gRes), .floats(gT), .i(B), .i(L), .i(M), .i(D), .i(ci)])
        try device.sgemm(transA: false, transB: false, m: B * M, n: c.patchDim, k: D, alpha: 1, a: gT.address, lda: D,
                         b: patchWeight.address, ldb: c.patchDim, beta: 0, c: gCols.address, ldc: c.patchDim)
        let colsHost = FloatBuffer(uninitialized: B * M * c.patchDim)
        try device.download(gCols, offset: 0, bytes: 4 * B * M * c.patchDim, to: colsHost.pointer)
        if grads != nil {
            let gPos = try arena.floats(L * D), gCls = try arena.floats(D), gPatchBias = try arena.floats(D)
            let gPatch = try arena.floats(D * c.patchDim), cols = try arena.floats(B * M * c.patchDim)
            try ops.columnSums(rows: B, cols: L * D, x: gRes.address, ld: L * D, out: gPos)
            try ops.columnSums(rows: B, cols: D, x: gRes.at(ci * D), ld: L * D, out: gCls)
            try ops.columnSums(rows: B * M, cols: D, x: gT.address, ld: D, out: gPatchBias)
            let unfolded = model.unfold(x)
            try device.upload(unfolded.ptr, count: B * M * c.patchDim, to: cols)
            try device.sgemm(transA: true, transB: false, m: D, n: c.patchDim, k: B * M, alpha: 1, a: gT.address, lda: D,
                             b: cols.address, ldb: c.patchDim, beta: 0, c: gPatch.address, ldc: c.patchDim)
            grads!.posEmbed = try fetch(gPos, L * D); grads!.clsToken = try fetch(gCls, D)
            grads!.patchBias = try fetch(gPatchBias, D); grads!.patchWeight = try fetch(gPatch, D * c.patchDim)
        }
        return VisionMamba.BackwardResult(logits: h.logits, inputGradient: model.fold(colsHost, shape: x.shape), parameterGradients: grads)
    }

    private func uploadArena(_ b: FloatBuffer) throws -> GPUBuffer {
        let d = try arena.floats(b.count)
        try device.upload(b.ptr, count: b.count, to: d)
        return d
    }

    /// Host copies of a layer's internals, in the CPU model's types (for loss hooks).
    private func hostInternals(_ a: Internals, batch: Int) throws -> MixerInternals {
        func host(_ b: GPUBuffer, _ count: Int) throws -> FloatBuffer {
            let h = FloatBuffer(uninitialized: count)
            try device.download(b, offset: 0, bytes: 4 * count, to: h.pointer)
            return h
        }
        let c = config, rows = batch * c.seqLen, E = c.dInner, D = c.embedDim, xw = c.dtRank + 2 * c.dState
        let dirs = try a.dirs.map { d in
            DirectionInternals(pre: try host(d.pre, rows * E), xc: try host(d.xc, rows * E), xdbl: try host(d.xdbl, rows * xw),
                               v: try host(d.v, rows * E), delta: try host(d.delta, rows * E), y: try host(d.y, rows * E),
                               states: try d.states.map { try host($0, rows * c.dState * E) })
        }
        return MixerInternals(batch: batch, length: c.seqLen, normed: try host(a.normed, rows * D), xz: try host(a.xz, rows * 2 * E),
                              directions: dirs, m: try host(a.m, rows * E), out: try host(a.out, rows * D))
    }
}
