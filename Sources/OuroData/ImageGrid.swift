import OuroEngine

/// Tiles a batch of normalised images into one picture (for inspecting generated samples).
public enum ImageGrid {
    /// Builds a grid image from `images` `[N, C, H, W]` (C = 1 or 3) in normalised space.
    ///
    /// Each value is de-normalised (x·std + mean), clamped to [0, 1] (NaN → 0) and rounded to
    /// 0…255, then upscaled `scale`× by nearest neighbour. Cells fill rows left to right with
    /// `min(columns, N)` columns; `padding` pixels of `background` surround every cell.
    public static func make(images: Tensor, mean: [Float], std: [Float], columns: Int, scale: Int = 1,
                            padding: Int = 1, background: UInt8 = 0) throws -> RasterImage {
        let ctx = "ImageGrid.make"
        guard images.shape.count == 4 else {
            throw DataError(ctx, "images of shape \(images.shape), expected [N, C, H, W]")
        }
        let n = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3]
        guard n > 0, h > 0, w > 0 else { throw DataError(ctx, "images of shape \(images.shape), expected no empty dimension") }
        guard c == 1 || c == 3 else { throw DataError(ctx, "\(c) channels, expected 1 or 3") }
        guard columns > 0, scale > 0, padding >= 0 else {
            throw DataError(ctx, "columns \(columns), scale \(scale), padding \(padding): expected ≥ 1, ≥ 1, ≥ 0")
        }
        let norm = try Normalization(mean: mean, std: std, channels: c, context: ctx)
        let cols = min(columns, n), rows = (n + cols - 1) / cols
        let cellW = w * scale, cellH = h * scale
        let outW = cols * cellW + (cols + 1) * padding, outH = rows * cellH + (rows + 1) * padding
        var px = [UInt8](repeating: background, count: outW * outH * c)
        let data = images.data
        for i in 0..<n {
            let ox = padding + (i % cols) * (cellW + padding), oy = padding + (i / cols) * (cellH + padding)
            for ch in 0..<c {
                let plane = (i * c + ch) * h * w
                for y in 0..<h {
                    for x in 0..<w {
                        let v = norm.toByte(data[plane + y * w + x], channel: ch)
                        for sy in 0..<scale {
                            let row = ((oy + y * scale + sy) * outW + ox + x * scale) * c + ch
                            for sx in 0..<scale { px[row + sx * c] = v }
                        }
                    }
                }
            }
        }
        return try RasterImage(width: outW, height: outH, channels: c, pixels: px)
    }
}
