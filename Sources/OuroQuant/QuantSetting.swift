/// A bit setting (b_w, b_I, b_O) of `method.md` §4.6; b_O = 16 keeps outliers in float.
public struct QuantSetting: Hashable, Sendable, CustomStringConvertible {
    public var weightBits: Int
    public var inlierBits: Int
    public var outlierBits: Int

    /// A setting whose three widths are in the format table (`QuantFormat.table`).
    public init(weightBits: Int, inlierBits: Int, outlierBits: Int) throws {
        _ = try QuantFormat.require(.weight, bits: weightBits)
        _ = try QuantFormat.require(.inlier, bits: inlierBits)
        _ = try QuantFormat.require(.outlier, bits: outlierBits)
        self.weightBits = weightBits; self.inlierBits = inlierBits; self.outlierBits = outlierBits
    }

    /// W4A4 = 4/4/8.
    public static let w4a4 = try! QuantSetting(weightBits: 4, inlierBits: 4, outlierBits: 8)
    /// W4A8 = 4/8/16.
    public static let w4a8 = try! QuantSetting(weightBits: 4, inlierBits: 8, outlierBits: 16)
    /// W8A8 = 8/8/16.
    public static let w8a8 = try! QuantSetting(weightBits: 8, inlierBits: 8, outlierBits: 16)

    /// The presets, the ones the integer GEMM benchmark and tests sweep.
    public static let integerPresets: [QuantSetting] = [.w4a4, .w4a8, .w8a8]

    /// `w4a4`, `w4a8`, `w8a8`, or `wXaYoZ` (e.g. `w4a4o16`).
    public var description: String {
        if self == .w4a4 { return "w4a4" }
        if self == .w4a8 { return "w4a8" }
        if self == .w8a8 { return "w8a8" }
        return "w\(weightBits)a\(inlierBits)o\(outlierBits)"
    }

    /// Parses `w4a4`, `w4a8`, `w8a8` or a custom `wXaYoZ` (bits, never numbers of levels).
    public init(parsing text: String) throws {
        switch text.lowercased() {
        case "w4a4": self = .w4a4; return
        case "w4a8": self = .w4a8; return
        case "w8a8": self = .w8a8; return
        default: break
        }
        let t = Array(text.lowercased())
        var nums: [Int] = [], letters: [Character] = []
        var i = 0
        while i < t.count {
            let c = t[i]
            guard "wao".contains(c) else { throw QuantError("setting '\(text)': expected w4a4, w4a8, w8a8 or wXaYoZ") }
            letters.append(c); i += 1
            var digits = ""
            while i < t.count, t[i].isNumber { digits.append(t[i]); i += 1 }
            guard let v = Int(digits) else { throw QuantError("setting '\(text)': expected a bit count after '\(c)'") }
            nums.append(v)
        }
        guard letters == ["w", "a", "o"] else { throw QuantError("setting '\(text)': expected w4a4, w4a8, w8a8 or wXaYoZ") }
        try self.init(weightBits: nums[0], inlierBits: nums[1], outlierBits: nums[2])
    }
}

/// Activation quantizers of `method.md` §4.7.
public enum QuantMethod: String, CaseIterable, Sendable {
    case ouromamba
    case staticMinmax = "static-minmax"
    case staticPerToken = "static-per-token"
    case staticOutlierList = "static-outlier-list"

    public init(parsing text: String) throws {
        guard let m = QuantMethod(rawValue: text) else {
            throw QuantError("method '\(text)': expected one of \(QuantMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = m
    }

    /// Whether calibration marks outliers per sample (only `ouromamba`).
    var marksOutliers: Bool { self == .ouromamba }
    /// Whether the inlier scales come from the pass-2 search (every method but static-minmax),
    /// i.e. whether calibration needs its second pass.
    public var searches: Bool { self != .staticMinmax }
}

/// How μ and σ of the run-time outlier detection are taken (`method.md` §4.5).
public enum OutlierStats: String, Sendable {
    /// Over the current inlier channels (default).
    case inliers
    /// Over all channels, listed ones counted as zeros (the authors' code).
    case allWithZeros = "all-with-zeros"
}

/// The quantization configuration of `method.md` §4.11 (only the options this build implements).
public struct QuantConfig: Hashable, Sendable {
    public var setting: QuantSetting
    public var method: QuantMethod
    public var nRefresh = 10
    public var lambdaSym = 3.0
    public var lambdaDelta = 4.0
    public var lambdaStaticList = 4.0
    public var candidates = 100
    public var calibBlock = 8
    public var adBits = 8
    public var outlierStats = OutlierStats.inliers

    public init(setting: QuantSetting = .w4a4, method: QuantMethod = .ouromamba) {
        self.setting = setting; self.method = method
    }

    /// Checks option ranges.
    public func validate() throws {
        guard nRefresh >= 1 else { throw QuantError("n_refresh \(nRefresh): expected ≥ 1") }
        guard candidates >= 1 else { throw QuantError("clip_candidates \(candidates): expected ≥ 1") }
        guard calibBlock >= 1 else { throw QuantError("calib_block \(calibBlock): expected ≥ 1") }
        _ = try QuantFormat.require(.scanParameter, bits: adBits)
        for (n, v) in [("lambda_sym", lambdaSym), ("lambda_delta", lambdaDelta), ("lambda_static_list", lambdaStaticList)] {
            guard v.isFinite, v >= 0 else { throw QuantError("\(n) \(v): expected a finite value ≥ 0") }
        }
    }
}
