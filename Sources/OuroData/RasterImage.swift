/// An 8-bit image with interleaved channels: decoded image files (`ImageDecoder`) and PNG output.
public struct RasterImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// 1 (grayscale) or 3 (RGB).
    public let channels: Int
    /// `height * width * channels` bytes, row-major, channels interleaved.
    public var pixels: [UInt8]

    /// Wraps pixels; throws when the byte count does not match the size.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, channels > 0, pixels.count == width * height * channels else {
            throw DataError("RasterImage", "\(pixels.count) bytes, expected \(width)×\(height)×\(channels)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The image as PNG bytes.
    public func pngData() throws -> [UInt8] {
        try PNG.encode(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Writes the image as a PNG file, atomically.
    public func writePNG(to path: String) throws {
        try PNG.write(to: path, width: width, height: height, channels: channels, pixels: pixels)
    }
}
