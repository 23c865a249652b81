import OuroEngine

/// The model-level operations of Vision Mamba on one backend, for one pass (host memory, or a
/// `GPUDevice`): embedding, norms, the residual stream, the head, and the mixer backend of each
/// layer. A backend owns its buffers' lifetimes (the GPU resets a scratch arena per layer) and
/// whatever hooks the pass carries; `ModelGraph` alone says which step follows which.
protocol ModelBackend {
    associatedtype Buffer
    associatedtype LayerBackend: MixerBackend where LayerBackend.Buffer == Buffer
    var config: VisionMambaConfig { get }
    /// Whether every layer's forward tensors fit the memory budget, so a backward pass keeps
    /// them instead of recomputing each layer.
    func keepsInternals(batch: Int) -> Bool
    /// `count` floats that live for the whole pass.
    func allocate(_ count: Int) throws -> Buffer
    /// dst = src (`count` floats).
    func copy(_ src: Buffer, into dst: Buffer, count: Int) throws
    /// dst += src (`count` floats).
    func add(_ src: Buffer, into dst: Buffer, count: Int) throws
    /// The residual stream (B·L, D) after the patch embedding, cls token and pos_embed; lives
    /// for the whole pass.
    func embed(_ x: Tensor) throws -> Buffer
    /// The mixer backend of layer `l`: a forward whose tensors must survive until the backward
    /// (`keep`), or a layer of the backward (or a plain forward). Starting a layer may recycle
    /// the scratch of the previous one.
    func layer(_ l: Int, keep: Bool) throws -> LayerBackend
    /// RMSNorm of layer `l` on the residual stream, in `layer`'s scratch; `keepRstd` returns
    /// the reciprocal RMS of each row for the backward.
    func norm(_ l: Int, _ x: Buffer, rows: Int, keepRstd: Bool, in layer: LayerBackend) throws -> (out: Buffer, rstd: Buffer?)
    /// gx += the norm's input gradient; with `weightGradient`, the norm weight's gradient.
    func normBackward(_ l: Int, x: Buffer, rstd: Buffer, gy: Buffer, gx: Buffer, rows: Int, weightGradient: Bool) throws -> [Float]?
    /// norm_f and the classifier on the cls rows: (features when the backend has them on the
    /// host, logits).
    func head(_ res: Buffer, batch: Int) throws -> (features: Tensor?, logits: Tensor)
    /// The head's backward from ∂loss/∂logits: the gradient on the residual stream (lives for
    /// the pass); head and norm_f gradients go into `grads`.
    func headBackward(_ res: Buffer, batch: Int, gLogits: Tensor, grads: inout VisionMambaWeights?) throws -> Buffer
    /// The pass's loss hook on layer `l`'s tensors: may add to `gHidden`; returns extra
    /// gradients on each direction's internals.
    func lossExtras(_ l: Int, _ a: MixerTensors<Buffer>, gHidden: Buffer, in layer: LayerBackend) throws -> [DirectionExtras<Buffer>]
    /// The embedding's backward: ∂loss/∂input on the host; embedding gradients into `grads`.
    func embedBackward(_ gRes: Buffer, x: Tensor, grads: inout VisionMambaWeights?) throws -> Tensor
}

/// The Vision Mamba graph (`vim-architecture.md` §5 forward, §6 backward): embed, then per
/// layer norm → mixer → residual add, then the head; written once and run by any
/// `ModelBackend`.
struct ModelGraph<Backend: ModelBackend> {
    typealias Buffer = Backend.Buffer
    let backend: Backend

    /// The forward pass. `eachLayer(l, residual, mixerOutput)` sees the residual entering layer
    /// `l` and the layer's mixer output before they are added.
    func forward(_ x: Tensor, eachLayer: (Int, Buffer, Buffer) -> Void = { _, _, _ in }) throws -> (features: Tensor?, logits: Tensor) {
        let c = backend.config, B = x.shape[0], count = B * c.seqLen * c.embedDim
        let res = try backend.embed(x)
        for l in 0..<c.depth {
            let layer = try backend.layer(l, keep: false)
            let normed = try backend.norm(l, res, rows: B * c.seqLen, keepRstd: false, in: layer).out
            let a = try MixerGraph(backend: layer).forward(normed: normed, batch: B, keepStates: false)
            eachLayer(l, res, a.out)
            try backend.add(a.out, into: res, count: count)
        }
        return try backend.head(res, batch: B)
    }

    /// Forward plus backward: logits, ∂loss/∂input and, with `parameters`, every parameter's
    /// gradient. Each layer's tensors are kept from the forward when they fit the backend's
    /// budget, else only the residual entering each layer is kept and the layer is recomputed
    /// with its scan states (memory bounded by one layer).
    func backward(_ x: Tensor, parameters: Bool, lossGradient: (Tensor) throws -> Tensor) throws -> VisionMamba.BackwardResult {
        let c = backend.config, B = x.shape[0], rows = B * c.seqLen, count = rows * c.embedDim
        let keep = backend.keepsInternals(batch: B)
        var residuals: [Buffer] = [], kept: [(tensors: MixerTensors<Buffer>, rstd: Buffer)] = []
        let res = try backend.embed(x)
        for l in 0..<c.depth {
            let saved = try backend.allocate(count)
            try backend.copy(res, into: saved, count: count)
            residuals.append(saved)
            let layer = try backend.layer(l, keep: keep)
            let n = try backend.norm(l, res, rows: rows, keepRstd: keep, in: layer)
            let a = try MixerGraph(backend: layer).forward(normed: n.out, batch: B, keepStates: keep)
            if keep { kept.append((a, n.rstd!)) }
            try backend.add(a.out, into: res, count: count)
        }
        let logits = try backend.head(res, batch: B).logits
        let gLogits = try lossGradient(logits)
        guard gLogits.shape == logits.shape else {
            throw ModelError("backward: loss gradient has shape \(gLogits.shape), expected \(logits.shape)")
        }
        var grads = parameters ? VisionMambaWeights(zerosFor: c) : nil
        let gRes = try backend.headBackward(res, batch: B, gLogits: gLogits, grads: &grads)
        // Layers, last to first.
        for l in stride(from: c.depth - 1, through: 0, by: -1) {
            let layer = try backend.layer(l, keep: false)
            let a: MixerTensors<Buffer>, rstd: Buffer
            if keep {
                (a, rstd) = kept.removeLast()
            } else {
                let n = try backend.norm(l, residuals[l], rows: rows, keepRstd: true, in: layer)
                a = try MixerGraph(backend: layer).forward(normed: n.out, batch: B, keepStates: true)
                rstd = n.rstd!
            }
            let gH = try layer.floats(count)
            try backend.copy(gRes, into: gH, count: count)
            let extras = try backend.lossExtras(l, a, gHidden: gH, in: layer)
            var lg = grads?.layers[l]
            let gNormed = try MixerGraph(backend: layer).backward(a, gOut: gH, extras: extras, grads: &lg)
            let gNorm = try backend.normBackward(l, x: residuals[l], rstd: rstd, gy: gNormed, gx: gRes, rows: rows,
                                                 weightGradient: lg != nil)
            if var lg, let gNorm { lg.normWeight = gNorm; grads!.layers[l] = lg }
            residuals.removeLast()   // free as we go
        }
        let gx = try backend.embedBackward(gRes, x: x, grads: &grads)
        return VisionMamba.BackwardResult(logits: logits, inputGradient: gx, parameterGradients: grads)
    }
}
