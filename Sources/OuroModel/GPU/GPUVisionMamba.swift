import Foundation
import OuroEngine

/// A Vision Mamba model resident on a `GPUDevice`. Its passes run the graph shared with the
/// CPU (`ModelGraph`, `MixerGraph`) through `GPUModelBackend`: GEMMs through the device's
/// sgemm, every other op a GPU kernel. Observers see activation points on the device
/// (`GPUForwardObserver`) or as host copies (`ForwardHooks` that only observe); loss hooks run
/// on the device (`GPUBackwardLayerHook`) or on host copies (`BackwardLayerHook`). One instance
/// serves one caller at a time: its scratch arena and layer caches are reused by every pass.
/// `@unchecked Sendable`: a lock box: every public pass, `setWeights` and the public
/// properties run under `passLock`, so concurrent callers wait for each other.
public final class GPUVisionMamba: @unchecked Sendable {
    /// The host model whose weights are on the device (see `setWeights`).
    public var model: VisionMamba { passLock.withLock { current } }
    /// `model`, for code already inside a pass (the lock is not recursive).
    private(set) var current: VisionMamba
    private let passLock = NSLock()
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
    var layerCaches: [GPUArena] = []
    /// Largest total size of kept layer internals: below it the backward reuses the forward's
    /// internals, above it every layer is recomputed (bounded memory, like the CPU model).
    /// Default: 30 % of the device's memory, at most 24 GiB (which keeps vim-tiny-shape blocks
    /// of 64 on an 80 GB card with room for the rest).
    public var cacheBudgetBytes: Int {
        get { passLock.withLock { cacheBudget } }
        set { passLock.withLock { cacheBudget = newValue } }
    }
    /// `cacheBudgetBytes`, for code inside a pass.
    private(set) var cacheBudget: Int

    /// Uploads the weights (A = −exp(A_log) and the transposed conv taps are derived once).
    public init(model: VisionMamba, device: GPUDevice) throws {
        current = model; self.device = device; ops = GPUOps(device: device)
        cacheBudget = min(24 << 30, (device.memoryBytes ?? Int.max) / 10 * 3)
        var buffers = try Self.deviceValues(model).map { try device.upload($0) }.makeIterator()
        func next() -> GPUBuffer { buffers.next()! }
        patchWeight = next(); patchBias = next(); clsToken = next(); posEmbed = next(); normF = next()
        headWeight = next(); headBias = next()
        layers = model.weights.layers.map { _ in
            let norm = next(), inProj = next(), outProj = next()
            let dirs = ScanDirection.allCases.map { _ in
                Direction(convWT: next(), convBias: next(), xProj: next(), dtProj: next(), dtBias: next(), a: next(), d: next())
            }
            return Layer(norm: norm, inProj: inProj, outProj: outProj, dirs: dirs)
        }
        arena = GPUArena(device: device)
    }

    /// Every device weight buffer, in the order of `deviceValues`.
    private var weightBuffers: [GPUBuffer] {
        [patchWeight, patchBias, clsToken, posEmbed, normF, headWeight, headBias] + layers.flatMap { l in
            [l.norm, l.inProj, l.outProj] + l.dirs.flatMap { [$0.convWT, $0.convBias, $0.xProj, $0.dtProj, $0.dtBias, $0.a, $0.d] }
        }
    }

    /// The host values of every device weight buffer, derived forms included (conv taps
    /// transposed to (K, E), A = −exp(A_log) as (E, N)).
    private static func deviceValues(_ model: VisionMamba) -> [[Float]] {
        let c = model.config, w = model.weights, E = c.dInner, N = c.dState, K = c.dConv
        var out = [w.patchWeight, w.patchBias, w.clsToken, w.posEmbed, w.normF, w.headWeight, w.headBias]
        for lw in w.layers {
            out += [lw.normWeight, lw.inProj, lw.outProj]
            for dir in ScanDirection.allCases {
                let dw = lw[dir], p = PreparedDirection(dw, E: E, N: N, K: K)
                var a = [Float](repeating: 0, count: E * N)
                for e in 0..<E { for n in 0..<N { a[e * N + n] = p.aT.pointer[n * E + e] } }
                out += [p.convWT.array, dw.convBias, dw.xProj, dw.dtProj, dw.dtBias, a, dw.d]
            }
        }
        return out
    }

    /// Replaces the weights (same configuration) in the existing device buffers, e.g. after
    /// an optimiser step.
    public func setWeights(_ weights: VisionMambaWeights) throws {
        try passLock.withLock { try replaceWeights(weights) }
    }

    private func replaceWeights(_ weights: VisionMambaWeights) throws {
        var updated = current
        updated.weights = weights
        let values = Self.deviceValues(updated), buffers = weightBuffers
        for (v, b) in zip(values, buffers) {
            guard v.count * 4 == b.bytes else {
                throw ModelError("GPU setWeights: a weight has \(v.count) values, its device buffer holds \(b.bytes / 4)")
            }
            try device.upload(v, to: b)
        }
        current = updated
    }

    var config: VisionMambaConfig { current.config }

    /// The CUDA C module of the model's layout kernels (for compile checks).
    public static var kernelModule: GPUModuleSource { GPUModelKernels.module }

    func module(_ name: String, threads: Int, _ args: [GPUArg]) throws {
        try device.launch(name, in: GPUModelKernels.module, threads: threads, args: args)
    }

    // MARK: - Forward pieces

    /// Patch embedding, cls and pos_embed: the residual stream (B·L, D) in `out`.
    func embed(_ x: Tensor, into out: GPUBuffer) throws {
        let c = config, B = x.shape[0], M = c.numPatches, D = c.embedDim, L = c.seqLen
        let cols = current.unfold(x)
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

    private func logits(_ x: Tensor, observer: Observer?) throws -> Tensor {
        try passLock.withLock {
            try current.checkInput(x)
            return try ModelGraph(backend: GPUModelBackend(model: self, observer: observer)).forward(x).logits
        }
    }

    /// norm_f on the cls rows and the classifier: (cls rows, features, logits on the host).
    func head(_ res: GPUBuffer, batch B: Int, rstd: GPUBuffer?) throws -> (cls: GPUBuffer, feat: GPUBuffer, logits: Tensor) {
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
        try passLock.withLock {
            try current.checkInput(x)
            let backend = GPUModelBackend(model: self, layerHook: layerHook, gpuHook: gpuHook)
            return try ModelGraph(backend: backend).backward(x, parameters: parameters, lossGradient: lossGradient)
        }
    }

    /// Host copies of a layer's internals, in the CPU model's types (for loss hooks).
    func hostInternals(_ a: Internals) throws -> MixerInternals {
        let batch = a.batch
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
