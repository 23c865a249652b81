/// Channel conversion, cropping and layout changes of `RasterImage` for the image-file datasets.
extension RasterImage {
    /// The image with `count` channels, as PIL's `convert`: luminance → RGB repeats the value;
    /// RGB → luminance is ITU-R 601-2 in PIL's fixed point, (19595 R + 38470 G + 7471 B + 2^15) >> 16.
    public func converted(toChannels count: Int) throws -> RasterImage {
        if count == channels { return self }
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * count)
        switch (channels, count) {
        case (1, 3):
            for i in 0..<n { let v = pixels[i]; out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v }
        case (3, 1):
            for i in 0..<n {
                let r = UInt32(pixels[3 * i]), g = UInt32(pixels[3 * i + 1]), b = UInt32(pixels[3 * i + 2])
                out[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
            }
        default:
            throw DataError("RasterImage.converted", "\(channels) → \(count) channels, expected 1 or 3 on each side")
        }
        return try RasterImage(width: width, height: height, channels: count, pixels: out)
    }

    /// The rectangle at (`left`, `top`) of size `cropWidth` × `cropHeight`, which must lie inside the image.
    public func cropped(left: Int, top: Int, width cropWidth: Int, height cropHeight: Int) throws -> RasterImage {
        guard left >= 0, top >= 0, cropWidth > 0, cropHeight > 0, left + cropWidth <= width, top + cropHeight <= height else {
            throw DataError("RasterImage.cropped", "crop \(cropWidth)×\(cropHeight) at (\(left), \(top)) of a \(width)×\(height) image")
        }
        var out = [UInt8](repeating: 0, count: cropWidth * cropHeight * channels)
        let row = cropWidth * channels
        for y in 0..<cropHeight {
            let src = ((top + y) * width + left) * channels
            out[(y * row)..<((y + 1) * row)] = pixels[src..<(src + row)]
        }
        return try RasterImage(width: cropWidth, height: cropHeight, channels: channels, pixels: out)
    }

    /// Writes the pixels planar (C, H, W) into `out` starting at `offset`.
    public func copyPlanar(into out: inout [UInt8], at offset: Int) {
        let plane = width * height
        if channels == 1 {
            out[offset..<(offset + plane)] = pixels[...]
            return
        }
        for c in 0..<channels {
            let dst = offset + c * plane
            for i in 0..<plane { out[dst + i] = pixels[i * channels + c] }
        }
    }
}
