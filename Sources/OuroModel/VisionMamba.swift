import OuroSupport
import OuroEngine

/// A Vision Mamba model: config plus weights, with exact float32 inference.
public struct VisionMamba: Sendable {
    public var config: VisionMambaConfig { didSet { prepared = Self.prepare(config, weights) } }
    public var weights: VisionMambaWeights { didSet { prepared = Self.prepare(config, weights) } }
    /// Each layer's forward and backward direction weights in the kernels' layout (A = −exp(A_log)
    /// in double, transposed; conv taps transposed): derived once per set of weights instead of
    /// in every forward. Never mutated, so copies of the model share them.
    private(set) var prepared: [[PreparedDirection]]

    public init(config: VisionMambaConfig, weights: VisionMambaWeights) {
        self.config = config; self.weights = weights
        prepared = Self.prepare(config, weights)
    }

    private static func prepare(_ c: VisionMambaConfig, _ w: VisionMambaWeights) -> [[PreparedDirection]] {
        w.layers.map { l in
            [PreparedDirection(l.forward, E: c.dInner, N: c.dState, K: c.dConv),
             PreparedDirection(l.backward, E: c.dInner, N: c.dState, K: c.dConv)]
        }
    }

    /// What a forward pass keeps besides the logits.
    public struct Capture: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// `residual_after_layer_i` for every layer (the input residual of layer i).
        public static let residuals = Capture(rawValue: 1)
        /// `hidden_after_layer_i`: each mixer output.
        public static let hiddens = Capture(rawValue: 2)
    }

    /// Result of a forward pass.
    public struct ForwardResult {
        /// (B, classes).
        public var logits: Tensor
        /// (B, D): RMSNorm_f output at the cls token.
        public var finalFeatures: Tensor
        /// Per layer (B, L, D), when captured.
        public var residuals: [Tensor] = []
        public var hiddens: [Tensor] = []
    }

    /// Checks an input batch [B, C, H, W] against the config.
    public func checkInput(_ x: Tensor, source: String = "input") throws {
        let c = config
        guard x.shape.count == 4 else { throw ModelError("\(source): expected a 4-D tensor [B, C, H, W], got shape \(x.shape)") }
        guard x.shape[1] == c.channels else {
            throw ModelError("\(source): image has \(x.shape[1]) channel(s), the model expects \(c.channels)")
        }
        guard x.shape[2] == c.imageSize, x.shape[3] == c.imageSize else {
            throw ModelError("\(source): image is \(x.shape[2])×\(x.shape[3]), the model expects \(c.imageSize)×\(c.imageSize)")
        }
    }

    // MARK: - Embedding

    /// im2col: (B·M, C·P·P) rows of patch values in (ch, ky, kx) order.
    func unfold(_ x: Tensor) -> FloatBuffer {
        let c = config, B = x.shape[0], G = c.gridSize, P = c.patchSize, s = c.stride, H = c.imageSize
        let cols = FloatBuffer(zeros: B * c.numPatches * c.patchDim)
        x.data.withUnsafeBufferPointer { xp in
            for b in 0..<B {
                for i in 0..<G {
                    for j in 0..<G {
                        let row = cols.pointer + (b * c.numPatches + i * G + j) * c.patchDim
                        var k = 0
                        for ch in 0..<c.channels {
                            for ky in 0..<P {
                                let src = ((b * c.channels + ch) * H + i * s + ky) * H + j * s
                                for kx in 0..<P { row[k] = xp[src + kx]; k += 1 }
                            }
                        }
                    }
                }
            }
        }
        return cols
    }

    /// col2im, the adjoint of `unfold`: pixel gradients from patch-row gradients (overlapping
    /// patches accumulate, in patch order).
    func fold(_ gCols: FloatBuffer, shape: [Int]) -> Tensor {
        let c = config, B = shape[0], M = c.numPatches, cDim = c.patchDim
        var gx = Tensor(zeros: shape)
        let G = c.gridSize, P = c.patchSize, s = c.stride, H = c.imageSize
        gx.data.withUnsafeMutableBufferPointer { gxp in
            for b in 0..<B {
                for i in 0..<G {
                    for j in 0..<G {
                        let row = gCols.ptr + (b * M + i * G + j) * cDim
                        var k = 0
                        for ch in 0..<c.channels {
                            for ky in 0..<P {
                                let dst = ((b * c.channels + ch) * H + i * s + ky) * H + j * s
                                for kx in 0..<P { gxp[dst + kx] += row[k]; k += 1 }
                            }
                        }
                    }
                }
            }
        }
        return gx
    }

    /// Patch embedding, cls insertion at c = M // 2, then + pos_embed: (B·L, D). `perImage`: one
    /// GEMM per image (`ForwardHooks.perImageFloatGEMMs`).
    func embed(_ x: Tensor, runner: ParallelRunner, perImage: Bool = false) -> FloatBuffer {
        let c = config, B = x.shape[0], M = c.numPatches, D = c.embedDim, L = c.seqLen, ci = c.clsIndex
        let cols = unfold(x)
        let tokens = FloatBuffer(zeros: B * M * D)
        weights.patchWeight.withUnsafeBufferPointer { w in
            BLAS.sgemm(transB: true, m: B * M, n: D, k: c.patchDim, a: cols.ptr, lda: c.patchDim,
                       b: w.baseAddress!, ldb: c.patchDim, c: tokens.pointer, ldc: D, runner: runner, rowsPerCall: perImage ? M : nil)
        }
        let seq = FloatBuffer(zeros: B * L * D)
        for b in 0..<B {
            for t in 0..<L {
                let dst = seq.pointer + (b * L + t) * D
                if t == ci {
                    for d in 0..<D { dst[d] = weights.clsToken[d] + weights.posEmbed[t * D + d] }
                } else {
                    let p = t < ci ? t : t - 1
                    let src = tokens.ptr + (b * M + p) * D
                    for d in 0..<D { dst[d] = (src[d] + weights.patchBias[d]) + weights.posEmbed[t * D + d] }
                }
            }
        }
        return seq
    }

    /// RMSNorm of layer l (or norm_f for l = depth) on (rows, D).
    func norm(_ weight: [Float], _ x: FloatBuffer, rows: Int, rstd: FloatBuffer?, runner: ParallelRunner) -> FloatBuffer {
        let out = FloatBuffer(zeros: rows * config.embedDim)
        weight.withUnsafeBufferPointer { w in
            RMSNorm.forward(rows: rows, d: config.embedDim, x: x.ptr, weight: w.baseAddress!, eps: config.normEps,
                            out: out.pointer, rstd: rstd?.pointer, runner: runner)
        }
        return out
    }

    /// Head on the cls rows of the final residual stream: returns (features, logits). `perImage`:
    /// one GEMM per image.
    func head(final: FloatBuffer, batch B: Int, runner: ParallelRunner, perImage: Bool = false) -> (Tensor, Tensor) {
        let c = config, D = c.embedDim, L = c.seqLen
        let cls = FloatBuffer(zeros: B * D)
        for b in 0..<B { (cls.pointer + b * D).update(from: final.ptr + (b * L + c.clsIndex) * D, count: D) }
        let feat = norm(weights.normF, cls, rows: B, rstd: nil, runner: runner)
        var logits = Tensor(zeros: [B, c.numClasses])
        logits.data.withUnsafeMutableBufferPointer { lp in
            weights.headWeight.withUnsafeBufferPointer { w in
                BLAS.sgemm(transB: true, m: B, n: c.numClasses, k: D, a: feat.ptr, lda: D, b: w.baseAddress!, ldb: D,
                           c: lp.baseAddress!, ldc: c.numClasses, runner: runner, rowsPerCall: perImage ? 1 : nil)
            }
            for b in 0..<B { for k in 0..<c.numClasses { lp[b * c.numClasses + k] += weights.headBias[k] } }
        }
        return (Tensor(shape: [B, D], data: feat.array), logits)
    }

    // MARK: - Forward

    /// Exact forward pass (`vim-architecture.md` §5). `hooks` see every quantization point.
    public func forward(_ x: Tensor, capture: Capture = [], hooks: ForwardHooks? = nil,
                        threads: Int = Hardware.cores) throws -> ForwardResult {
        try checkInput(x)
        let backend = HostModelBackend(model: self, runner: ParallelRunner(threads: threads), hooks: hooks)
        let B = x.shape[0], L = config.seqLen, D = config.embedDim
        var residuals: [Tensor] = [], hiddens: [Tensor] = []
        let (feat, logits) = try ModelGraph(backend: backend).forward(x) { _, res, out in
            if capture.contains(.residuals) { residuals.append(Tensor(shape: [B, L, D], data: res.array)) }
            if capture.contains(.hiddens) { hiddens.append(Tensor(shape: [B, L, D], data: out.array)) }
        }
        return ForwardResult(logits: logits, finalFeatures: feat!, residuals: residuals, hiddens: hiddens)
    }

    /// Logits of a batch, processed in chunks of `batchSize` images. Without hooks, the chunks
    /// run side by side on lanes (`logits(_:batchSize:laneHooks:threads:)`); with hooks, one
    /// after the other on all threads (the hooks see every chunk in order).
    public func logits(_ x: Tensor, batchSize: Int = 8, hooks: ForwardHooks? = nil, threads: Int = Hardware.cores) throws -> Tensor {
        let lanes = hooks == nil ? VisionMamba.lanes(images: x.shape.first ?? 0, batchSize: batchSize, threads: threads) : 1
        return try logits(x, batchSize: batchSize, laneHooks: [ForwardHooks?](repeating: hooks, count: lanes), threads: threads)
    }

    /// How many lanes `logits` runs for `images` images: one per thread, at most one per chunk.
    public static func lanes(images: Int, batchSize: Int, threads: Int) -> Int {
        max(1, min(threads, (images + max(1, batchSize) - 1) / max(1, batchSize)))
    }

    /// Logits of a batch in chunks of `batchSize` images, the chunks spread over
    /// `laneHooks.count` lanes: lane l runs chunks l, l + lanes, … with `laneHooks[l]`, each
    /// forward on `threads / lanes` threads. One chunk's work stays on one lane's threads, so
    /// its activations stay in that core's cache and the lanes need no synchronisation.
    ///
    /// Every chunk is the same images and the same computation as in the sequential order, and
    /// the forward's results do not depend on its thread count, so the logits are identical.
    public func logits(_ x: Tensor, batchSize: Int, laneHooks: [ForwardHooks?], threads: Int) throws -> Tensor {
        try checkInput(x)
        precondition(!laneHooks.isEmpty, "VisionMamba.logits: no lanes")
        let B = x.shape[0], K = config.numClasses, size = max(1, batchSize)
        let chunks = (B + size - 1) / size, lanes = min(laneHooks.count, max(1, chunks))
        // One lane runs its chunks inline, in order, on all threads.
        let laneThreads = max(1, threads / lanes)
        let results = Locked([Int: [Float]]()), failure = Locked<Error?>(nil)
        ParallelRunner(threads: lanes).forEach(lanes) { lane in
            var c = lane
            while c < chunks, failure.current == nil {
                let n = min(size, B - c * size)
                do {
                    let z = try forward(x.slice(outer: c * size, count: n), hooks: laneHooks[lane], threads: laneThreads).logits.data
                    results.withLock { $0[c] = z }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
                c += lanes
            }
        }
        if let e = failure.current { throw e }
        let parts = results.current
        var out = [Float]()
        out.reserveCapacity(B * K)
        for c in 0..<chunks { out += parts[c]! }
        return Tensor(shape: [B, K], data: out)
    }
}
