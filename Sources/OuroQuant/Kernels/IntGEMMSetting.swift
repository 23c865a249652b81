/// Bit settings of method.md 4.6 (weights, inliers, outliers; outliers 16 = float).
public enum IntGEMMSetting: String, Sendable, CaseIterable {
    case w4a4, w4a8, w8a8

    /// b_w.
    public var weightBits: Int { self == .w8a8 ? 8 : 4 }
    /// b_I.
    public var inlierBits: Int { self == .w4a4 ? 4 : 8 }
    /// b_O (16 = kept in float).
    public var outlierBits: Int { self == .w4a4 ? 8 : 16 }
}
