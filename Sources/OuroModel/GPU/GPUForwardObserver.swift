import OuroEngine

/// An activation point left on the device: rows of `channels` floats starting `offset` floats
/// into `buffer`, row stride `ld`, `batch · length` rows in original token order.
public struct GPUActivationView {
    public let buffer: GPUBuffer
    public let offset: Int
    public let ld: Int
    public let channels: Int
    public let batch: Int
    public let length: Int
}

/// The device-side counterpart of an observing `ForwardHooks`: sees every activation point of a
/// forward pass without a host copy (calibration statistics reduced by GPU kernels). Called in
/// the model's order; scratch it allocates from `arena` lives until the layer ends.
public protocol GPUForwardObserver: AnyObject {
    func activation(_ point: ActivationPoint, layer: Int, _ view: GPUActivationView, arena: GPUArena) throws
}
