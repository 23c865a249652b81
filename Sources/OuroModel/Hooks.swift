/// Quantization-point kinds of `method.md` §4.3.
public enum PointKind: String, CaseIterable, Sendable {
    case input = "in", out, xproj, dtproj, delta, B, C

    /// Whether the point exists once per scan direction.
    public var perDirection: Bool { self != .input && self != .out }
}

/// One activation point of a layer: a kind and, for per-direction kinds, a direction.
public struct ActivationPoint: Hashable, Sendable, CustomStringConvertible {
    public var kind: PointKind
    public var direction: ScanDirection?
    public init(_ kind: PointKind, _ direction: ScanDirection? = nil) { self.kind = kind; self.direction = direction }
    /// Name as in the goldens: `in`, `out`, `xproj.f`, `delta.b`, …
    public var description: String { direction.map { "\(kind.rawValue).\($0.suffix)" } ?? kind.rawValue }

    /// The 12 points of a layer in a fixed order.
    public static let all: [ActivationPoint] = {
        var out = [ActivationPoint(.input)]
        for k in [PointKind.xproj, .dtproj, .delta, .B, .C] {
            for d in ScanDirection.allCases { out.append(ActivationPoint(k, d)) }
        }
        out.append(ActivationPoint(.out))
        return out
    }()
}

/// A view of a [batch, length, channels] activation (rows in original token order,
/// row stride `ld`). Per-direction points of the backward scan run over t' = L − 1 − t.
public struct ActivationView {
    public var values: UnsafeMutablePointer<Float>
    public var ld: Int
    public var channels: Int
    public var batch: Int
    public var length: Int
    public init(values: UnsafeMutablePointer<Float>, ld: Int, channels: Int, batch: Int, length: Int) {
        self.values = values; self.ld = ld; self.channels = channels; self.batch = batch; self.length = length
    }
    /// Pointer to the row of image b at original position t.
    @inline(__always) public func row(_ b: Int, _ t: Int) -> UnsafeMutablePointer<Float> { values + (b * length + t) * ld }
}

/// The quantized linear layers of a mixer.
public enum LinearKind: Hashable, Sendable {
    case inProj, outProj, xProj(ScanDirection), dtProj(ScanDirection)
}

/// Observes or rewrites activations during a forward pass (calibration, fake quantization,
/// integer engines). Called from the model's serial code, never concurrently.
public protocol ForwardHooks: AnyObject {
    /// The activation at `point` of `layer`, before it is consumed. May modify it in place.
    func activation(_ point: ActivationPoint, layer: Int, _ view: ActivationView)
    /// Computes `output = input · Wᵀ` itself (e.g. with integer kernels); return false to let
    /// the model use float sgemm with its own weights.
    func linear(_ kind: LinearKind, layer: Int, input: ActivationView, output: UnsafeMutablePointer<Float>, ldOut: Int) -> Bool
    /// Whether `activation` may modify the input of a linear layer (`in`, `xproj`, `dtproj`,
    /// `out`). When false, the model hands over its own buffers instead of copies.
    var modifiesLinearInputs: Bool { get }
    /// The Δ point together with the softplus that consumes it: hooks that can produce
    /// `delta = softplus(v̂)` faster than the model (e.g. from a table of quantization levels)
    /// do what `activation` would do to `view` (v), write delta (row stride `ldDelta`) with the
    /// bits of `Elementwise.softplus`, and return true. False (the default): the model calls
    /// `activation` and computes the softplus itself.
    func deltaSoftplus(_ point: ActivationPoint, layer: Int, _ view: ActivationView, delta: UnsafeMutablePointer<Float>,
                       ldDelta: Int) -> Bool
    /// Whether the float GEMMs the hooks leave to the model (patch embedding, head) run one
    /// image at a time. OpenBLAS can round a row differently depending on how many rows the call
    /// has (measured: an image's logits differ in the last bits between batches of 16, 5 and 1);
    /// per image, the whole forward is the same for an image in any batch when the hooks' own
    /// work is per sample (the quantized engines). False (the default): one call over the batch.
    var perImageFloatGEMMs: Bool { get }
}

extension ForwardHooks {
    public func deltaSoftplus(_ point: ActivationPoint, layer: Int, _ view: ActivationView, delta: UnsafeMutablePointer<Float>,
                              ldDelta: Int) -> Bool { false }
    public func linear(_ kind: LinearKind, layer: Int, input: ActivationView, output: UnsafeMutablePointer<Float>, ldOut: Int) -> Bool { false }
    public var modifiesLinearInputs: Bool { true }
    public var perImageFloatGEMMs: Bool { false }
}
