/// Per-channel mean/std that map pixel/255 into a model's input space: (x − mean) / std.
///
/// A single value broadcasts to every channel.
public struct Normalization: Sendable, Equatable {
    /// Mean per channel (pixel/255 units).
    public let mean: [Float]
    /// Standard deviation per channel, each finite and > 0.
    public let std: [Float]

    /// ImageNet's per-channel mean (RGB), the default of the official Vim checkpoints.
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet's per-channel std (RGB).
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    /// Validates and broadcasts `mean`/`std` to `channels` values.
    public init(mean: [Float], std: [Float], channels: Int, context: String = "Normalization") throws {
        func expand(_ v: [Float], _ what: String) throws -> [Float] {
            if v.count == channels { return v }
            if v.count == 1 { return [Float](repeating: v[0], count: channels) }
            throw DataError(context, "\(v.count) \(what) values, expected 1 or \(channels) (one per channel)")
        }
        let m = try expand(mean, "mean"), s = try expand(std, "std")
        guard m.allSatisfy({ $0.isFinite }) else { throw DataError(context, "mean \(mean) is not finite") }
        guard s.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw DataError(context, "std \(std), expected finite values > 0")
        }
        self.mean = m
        self.std = s
    }

    /// The normalised value of every byte for channel `c`; a table keeps the arithmetic in
    /// one place, so batches and tests agree bit for bit.
    func table(channel c: Int) -> [Float] {
        (0..<256).map { (Float($0) / 255 - mean[c]) / std[c] }
    }

    /// x·std + mean, clamped to [0, 1] (NaN → 0) and rounded to 0…255.
    @inline(__always)
    func toByte(_ x: Float, channel c: Int) -> UInt8 {
        let v = x * std[c] + mean[c]
        guard v > 0 else { return 0 }  // also catches NaN
        return v >= 1 ? 255 : UInt8((v * 255).rounded())
    }
}
