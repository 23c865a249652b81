import Foundation

/// Bicubic resampling with antialiasing, computed as PIL's `Image.resize(size, BICUBIC)`.
///
/// PIL's algorithm on 8-bit images, reproduced operation for operation so results are equal
/// byte for byte: a separable filter (a = −0.5) widened by the scale factor when shrinking,
/// weights normalised per output pixel and rounded to 22-bit fixed point, the horizontal pass
/// first into an 8-bit image (rounded and clipped), then the vertical pass.
public enum BicubicResize {
    static let precisionBits = 32 - 8 - 2

    /// PIL's bicubic kernel (a = −0.5), support 2.
    @inline(__always)
    static func kernel(_ x0: Double) -> Double {
        let a = -0.5, x = abs(x0)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// Per output index: first input index, tap count and fixed-point weights (`ksize` per row).
    struct Coefficients {
        var ksize: Int
        var bounds: [(start: Int, count: Int)]
        var weights: [Int32]
    }

    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(Int, Int)] = []
        bounds.reserveCapacity(outSize)
        var weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterScale
            // C's (int) truncates toward zero; both values are ≥ −0.5 + … so truncation matches PIL.
            let xmin = max(0, Int(center - support + 0.5))
            let xmax = min(inSize, Int(center + support + 0.5)) - xmin
            var ww = 0.0
            for x in 0..<max(0, xmax) {
                let w = kernel((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            for x in 0..<max(0, xmax) {
                let v = ww != 0 ? k[x] / ww : k[x]
                let f = v * Double(1 << precisionBits)
                weights[xx * ksize + x] = Int32(v < 0 ? (-0.5 + f).rounded(.towardZero) : (0.5 + f).rounded(.towardZero))
            }
            bounds.append((xmin, max(0, xmax)))
        }
        return Coefficients(ksize: ksize, bounds: bounds, weights: weights)
    }

    @inline(__always)
    static func clip8(_ v: Int) -> UInt8 {
        if v >= (1 << (precisionBits + 8)) { return 255 }
        if v <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: v >> precisionBits)
    }

    /// `image` resized to `width` × `height`.
    public static func resize(_ image: RasterImage, width: Int, height: Int) throws -> RasterImage {
        guard width > 0, height > 0 else {
            throw DataError("BicubicResize", "target size \(width)×\(height), expected positive sizes")
        }
        if width == image.width && height == image.height { return image }
        let ch = image.channels
        let vert = coefficients(inSize: image.height, outSize: height)
        var src = image.pixels, srcWidth = image.width, rowOffset = 0
        // Only the rows the vertical pass reads are resampled horizontally (as PIL does).
        let firstRow = vert.bounds[0].start
        let lastRow = vert.bounds[height - 1].start + vert.bounds[height - 1].count
        if width != image.width {
            let horiz = coefficients(inSize: image.width, outSize: width)
            let rows = lastRow - firstRow
            var tmp = [UInt8](repeating: 0, count: rows * width * ch)
            let half = 1 << (precisionBits - 1)
            src.withUnsafeBufferPointer { s in
                tmp.withUnsafeMutableBufferPointer { t in
                    for y in 0..<rows {
                        let inRow = (y + firstRow) * srcWidth * ch, outRow = y * width * ch
                        for xx in 0..<width {
                            let (start, count) = horiz.bounds[xx], kb = xx * horiz.ksize
                            for c in 0..<ch {
                                var acc = half
                                for x in 0..<count {
                                    acc += Int(s[inRow + (start + x) * ch + c]) * Int(horiz.weights[kb + x])
                                }
                                t[outRow + xx * ch + c] = clip8(acc)
                            }
                        }
                    }
                }
            }
            src = tmp
            srcWidth = width
            rowOffset = firstRow
        }
        guard height != image.height else {
            return try RasterImage(width: width, height: height, channels: ch, pixels: src)
        }
        var out = [UInt8](repeating: 0, count: height * width * ch)
        let half = 1 << (precisionBits - 1), stride = width * ch
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for yy in 0..<height {
                    let (start, count) = vert.bounds[yy], kb = yy * vert.ksize
                    for i in 0..<stride {
                        var acc = half
                        for y in 0..<count {
                            acc += Int(s[(start - rowOffset + y) * stride + i]) * Int(vert.weights[kb + y])
                        }
                        o[yy * stride + i] = clip8(acc)
                    }
                }
            }
        }
        return try RasterImage(width: width, height: height, channels: ch, pixels: out)
    }
}
