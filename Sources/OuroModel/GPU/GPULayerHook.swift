import OuroEngine

/// One layer's internals on the device, for losses that run on the GPU.
public struct GPULayerInternals {
    public let batch: Int
    /// Mixer output (B·L, D).
    public let out: GPUBuffer
    /// Per direction (index `ScanDirection.rawValue`): x_proj output (B·L, R + 2N), post-softplus
    /// Δ (B·L, E) and the scan states [b][t][n][e].
    public let xdbl: [GPUBuffer], delta: [GPUBuffer], states: [GPUBuffer]
}

/// Extra gradients a GPU loss puts on one direction's internals (device buffers, same
/// layouts as `DirectionExtraGradients`).
public struct GPUDirectionExtras {
    public var states: GPUBuffer?, c: GPUBuffer?, delta: GPUBuffer?
    public init(states: GPUBuffer? = nil, c: GPUBuffer? = nil, delta: GPUBuffer? = nil) {
        self.states = states; self.c = c; self.delta = delta
    }
}

/// The device-side counterpart of `BackwardLayerHook`: called after layer `layer` was
/// recomputed, before its mixer backward. Buffers it returns must come from `arena` (valid
/// until the layer's backward ends).
public protocol GPUBackwardLayerHook: AnyObject {
    func layerBackward(layer: Int, internals: GPULayerInternals, gHidden: GPUBuffer, arena: GPUArena) throws -> [GPUDirectionExtras?]?
}
