import CImageCodecs
import OuroSupport

/// JPEG and PNG decoding (libjpeg-turbo and libpng), with PIL's conversions to luminance or RGB.
///
/// The format is taken from the file's first bytes, not its name. Corrupt or truncated data
/// is an error (libjpeg's warnings included), as PIL refuses truncated images by default.
public enum ImageDecoder {
    /// Decodes a JPEG or PNG to luminance or RGB (CMYK JPEGs are converted to RGB as PIL does).
    ///
    /// - Throws: `DataError` naming `name` for a format that is neither JPEG nor PNG, or for
    ///   data the library rejects (with its message).
    public static func decode(_ bytes: [UInt8], name: String) throws -> RasterImage {
        var img = ouro_image()
        var err = [CChar](repeating: 0, count: 256)
        let status: Int32
        switch ImageFormat.sniff(bytes) {
        case .jpeg: status = bytes.withUnsafeBufferPointer { ouro_jpeg_decode($0.baseAddress, $0.count, &img, &err, err.count) }
        case .png: status = bytes.withUnsafeBufferPointer { ouro_png_decode($0.baseAddress, $0.count, &img, &err, err.count) }
        case nil:
            let head = bytes.prefix(4).map { String($0, radix: 16, uppercase: true) }.joined(separator: " ")
            throw DataError(name, "not a JPEG or PNG image (\(bytes.count) bytes, first bytes \(head.isEmpty ? "none" : head))")
        }
        guard status == 0 else {
            let what = ImageFormat.sniff(bytes) == .jpeg ? "JPEG" : "PNG"
            throw DataError(name, "corrupt or truncated \(what): \(String(nulTerminated: err))")
        }
        defer { ouro_image_free(&img) }
        let w = Int(img.width), h = Int(img.height), c = Int(img.channels)
        let samples = Array(UnsafeBufferPointer(start: img.pixels, count: w * h * c))
        switch Int(img.layout) {
        case Int(OURO_CMYK_ADOBE.rawValue): return try RasterImage(width: w, height: h, channels: 3, pixels: cmykToRGB(samples, inverted: true))
        case Int(OURO_CMYK.rawValue): return try RasterImage(width: w, height: h, channels: 3, pixels: cmykToRGB(samples, inverted: false))
        default: return try RasterImage(width: w, height: h, channels: c, pixels: samples)
        }
    }

    /// Reads and decodes the file at `path`; errors name the path.
    public static func decode(file path: String) throws -> RasterImage {
        let bytes: [UInt8]
        do { bytes = try FileIO.contents(of: path) } catch let e as DataError { throw DataError(path, e.message) }
        return try decode(bytes, name: path)
    }

    /// CMYK samples → RGB as PIL's `convert("RGB")` (Pillow 9.4): with nk = 255 − K,
    /// R = nk − round(C · nk / 255) in PIL's fixed point. `inverted`: Adobe-marked JPEGs store
    /// 255 − value (PIL's "CMYK;I").
    static func cmykToRGB(_ s: [UInt8], inverted: Bool) -> [UInt8] {
        let n = s.count / 4
        var out = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<n {
            let nk = 255 - Int(inverted ? 255 - s[4 * i + 3] : s[4 * i + 3])
            for c in 0..<3 {
                let v = Int(inverted ? 255 - s[4 * i + c] : s[4 * i + c])
                let t = v * nk + 128
                out[3 * i + c] = UInt8(max(0, min(255, nk - (((t >> 8) + t) >> 8))))
            }
        }
        return out
    }

    /// A JPEG of interleaved samples: 1 (gray), 3 (RGB) or 4 (CMYK with an Adobe marker, samples
    /// stored as given, so PIL reads them back inverted) channels. For tests and example folders.
    public static func encodeJPEG(pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int = 90,
                                  progressive: Bool = false) throws -> [UInt8] {
        guard width > 0, height > 0, [1, 3, 4].contains(channels), pixels.count == width * height * channels else {
            throw DataError("ImageDecoder.encodeJPEG", "\(pixels.count) bytes for \(width)×\(height)×\(channels), expected 1, 3 or 4 channels")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var err = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer {
            ouro_jpeg_encode($0.baseAddress, Int32(width), Int32(height), Int32(channels), Int32(quality), progressive ? 1 : 0,
                             &out, &size, &err, err.count)
        }
        guard status == 0, let out else {
            throw DataError("ImageDecoder.encodeJPEG", String(nulTerminated: err))
        }
        defer { ouro_buffer_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}

/// The image formats read from files, recognised by their signatures.
public enum ImageFormat: Sendable, Equatable {
    case jpeg, png

    /// The format whose signature starts `bytes`, or nil.
    public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        return nil
    }

    /// File extensions (lower case) listed as images in folders.
    public static let extensions: Set<String> = ["jpg", "jpeg", "png"]
}
