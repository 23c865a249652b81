/// Renders a matrix of values as an RGB picture with a perceptual colour map.
public enum HeatMap {
    /// Colour for non-finite values (drawn, but ignored for the min–max range).
    public static let nonFiniteColor: (UInt8, UInt8, UInt8) = (0, 0, 0)

    /// Anchors of a viridis-like map (dark violet → blue → teal → green → yellow), hand-picked
    /// so that relative luminance rises strictly from one anchor to the next.
    static let anchors: [(Float, Float, Float)] = [
        (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
        (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
    ]

    /// The colour at `t` in [0, 1] (clamped; NaN gives `nonFiniteColor`), linearly
    /// interpolated between the anchors.
    public static func color(_ t: Float) -> (UInt8, UInt8, UInt8) {
        guard !t.isNaN else { return nonFiniteColor }
        let u = min(max(t, 0), 1) * Float(anchors.count - 1)
        let i = min(Int(u), anchors.count - 2)
        let f = u - Float(i)
        let a = anchors[i], b = anchors[i + 1]
        func mix(_ x: Float, _ y: Float) -> UInt8 { UInt8((x + (y - x) * f).rounded()) }
        return (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// Renders `values` (row-major, `rows × cols`) as RGB, each value a `scale`×`scale` block.
    ///
    /// Values are min–max normalised over the finite entries; when they are all equal every
    /// cell gets the middle colour.
    public static func render(values: [Float], rows: Int, cols: Int, scale: Int = 1) throws -> RasterImage {
        let ctx = "HeatMap.render"
        guard rows > 0, cols > 0, scale > 0 else {
            throw DataError(ctx, "rows \(rows), cols \(cols), scale \(scale): expected all ≥ 1")
        }
        guard values.count == rows * cols else {
            throw DataError(ctx, "\(values.count) values, expected \(rows)×\(cols) = \(rows * cols)")
        }
        let finite = values.filter { $0.isFinite }
        let lo = finite.min() ?? 0, hi = finite.max() ?? 0
        let range = hi - lo
        let w = cols * scale, h = rows * scale
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for r in 0..<rows {
            for c in 0..<cols {
                let v = values[r * cols + c]
                let rgb = !v.isFinite ? nonFiniteColor : color(range > 0 ? (v - lo) / range : 0.5)
                for sy in 0..<scale {
                    var o = ((r * scale + sy) * w + c * scale) * 3
                    for _ in 0..<scale {
                        px[o] = rgb.0; px[o + 1] = rgb.1; px[o + 2] = rgb.2
                        o += 3
                    }
                }
            }
        }
        return try RasterImage(width: w, height: h, channels: 3, pixels: px)
    }
}
