import Foundation

/// The generators of `method.md` §3.8.
public enum GeneratorKind: String, Codable, CaseIterable, Sendable {
    case noise, outputOnly = "output-only", pse, contrastiveRaw = "contrastive-raw", ouromamba
}

/// Where a Gen configuration's defaults come from.
public enum GenDefaults: String, Codable, CaseIterable, Sendable {
    /// `method.md` §3.12 exactly: what `GenConfig()` holds, and what the `gen-micro` goldens check.
    case spec
    /// The spec's loss with the project's measured deviations (docs/method-notes.md): the
    /// default of the command line and the pipeline.
    case recommended
}

/// OuroMamba-Gen configuration (`method.md` §3.12). `GenConfig()` holds the spec's defaults;
/// `GenConfig(defaults: .recommended)` the project's.
public struct GenConfig: Codable, Equatable, Sendable {
    public var generator: GeneratorKind = .ouromamba
    public var samples = 128
    public var iterations = 500
    public var lr: Float = 0.25
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    /// Images per block: the unit of batching and of cluster sharding.
    public var block = 8
    public var seed: UInt64 = 0
    /// P: patched-state window (replicate padding).
    public var patchNbhd = 3
    /// `delta` (Δ-weighted) or `uniform`.
    public var deltaWeighting = "delta"
    public var detachDeltaWeights = false
    /// K: contrastive candidate window (no padding).
    public var contrastNbhd = 5
    /// k: positives in a full window.
    public var contrastTopk = 12
    /// `proportional` or `clip`.
    public var borderTopk = "proportional"
    public var tau: Float = 0.2
    /// Layers entering L^C (nil: all).
    public var contrastLayers: [Int]? = nil
    public var featureL2norm = false
    /// `ce` or `mae`.
    public var outputLoss = "ce"
    public var lambdaO: Float = 1
    public var clampValidRange = false
    public var pseBandwidth: Double = 0.01
    public var pseGridPoints = 10

    // Levers beyond the spec (docs/method-notes.md). Optional, so that a configuration without
    // them encodes exactly as before (job identity, meta.json) and older JSON still decodes.
    /// Weight of the total-variation prior (mean squared difference of neighbouring pixels).
    public var tvWeight: Float? = nil
    /// Weight of the L2 prior (mean squared pixel).
    public var l2Weight: Float? = nil
    /// Random circular shift of up to ±`jitter` pixels in each direction before every
    /// evaluation of the objective (per sample and iteration).
    public var jitter: Int? = nil
    /// Random horizontal flip (probability ½) before every evaluation of the objective.
    public var flip: Bool? = nil

    /// The spec's defaults.
    public init() {}

    /// The defaults of `defaults`.
    public init(defaults: GenDefaults) {
        self.init()
        switch defaults {
        case .spec: break
        case .recommended:
            // Pixels stay in the valid input range: the spec's lr 0.25 otherwise drives 54 % of
            // them outside it and widens activation ranges. With them clamped, lr 0.05 calibrates
            // better than 0.25 on the benchmark model over 3 seeds, at 200 iterations: the setting
            // those seeds measured, and 1000 gained nothing there at 5x the cost
            // (docs/method-notes.md).
            clampValidRange = true
            lr = 0.05
            iterations = 200
        }
    }

    /// Identifier of the random-number recipe; part of the data set's identity.
    public static let rngIdentifier = "splitmix64-xoshiro256starstar-boxmuller64"

    /// Throws on values outside their domain.
    public func validate() throws {
        func bad(_ m: String) -> GenError { GenError("gen config: \(m)") }
        guard samples > 0 else { throw bad("samples must be > 0") }
        guard iterations >= 0 else { throw bad("iterations must be ≥ 0") }
        guard block > 0 else { throw bad("block must be > 0") }
        guard patchNbhd % 2 == 1, patchNbhd > 0 else { throw bad("patch_nbhd must be odd and positive") }
        guard contrastNbhd % 2 == 1, contrastNbhd > 1 else { throw bad("contrast_nbhd must be odd and ≥ 3") }
        guard contrastTopk > 0 else { throw bad("contrast_topk must be > 0") }
        guard ["delta", "uniform"].contains(deltaWeighting) else { throw bad("delta_weighting must be delta or uniform") }
        guard ["proportional", "clip"].contains(borderTopk) else { throw bad("border_topk must be proportional or clip") }
        guard ["ce", "mae"].contains(outputLoss) else { throw bad("output_loss must be ce or mae") }
        guard tau > 0 else { throw bad("tau must be > 0") }
        if let w = tvWeight { guard w >= 0, w.isFinite else { throw bad("tv_weight must be finite and ≥ 0") } }
        if let w = l2Weight { guard w >= 0, w.isFinite else { throw bad("l2_weight must be finite and ≥ 0") } }
        if let j = jitter { guard j >= 0 else { throw bad("jitter must be ≥ 0") } }
    }
}

/// An error from the generator.
public struct GenError: Error, CustomStringConvertible {
    public var description: String
    public init(_ m: String) { description = m }
}
