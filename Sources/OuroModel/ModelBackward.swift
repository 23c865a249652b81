import OuroSupport
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

    /// The default memory for keeping layer internals between forward and backward (768 MiB).
    public static let defaultCacheBudgetBytes = 768 << 20

    /// Forward plus hand-written backward (`vim-architecture.md` §6–7).
    ///
    /// Only each layer's input residual is kept during the forward; every layer is recomputed
    /// (with its scan states) during the backward and discarded after, so memory is bounded
    /// by one layer's internals. `lossGradient` maps the logits to ∂loss/∂logits.
    /// Layer internals are kept from the forward pass instead of recomputed when all layers
    /// fit in `cacheBudgetBytes` (small models, e.g. training on 28×28); otherwise only the
    /// residual stream is kept and each layer is recomputed (bounded memory for 224×224).
    public func backward(_ x: Tensor, parameters: Bool, layerHook: BackwardLayerHook? = nil,
                         threads: Int = Hardware.cores, cacheBudgetBytes: Int = defaultCacheBudgetBytes,
                         lossGradient: (Tensor) throws -> Tensor) throws -> BackwardResult {
        try checkInput(x)
        let backend = HostModelBackend(model: self, runner: ParallelRunner(threads: threads), layerHook: layerHook,
                                       cacheBudgetBytes: cacheBudgetBytes)
        return try ModelGraph(backend: backend).backward(x, parameters: parameters, lossGradient: lossGradient)
    }
}
