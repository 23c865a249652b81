/// A labelled set of 8-bit images held in memory.
///
/// Pixels are stored image after image, each image planar (C, H, W) row-major, so one image
/// maps directly onto a slice of a `[B, C, H, W]` tensor.
public struct ImageDataset: Sendable, Equatable {
    /// Channels per image (1 for Fashion-MNIST).
    public let channels: Int
    /// Image height in pixels.
    public let height: Int
    /// Image width in pixels.
    public let width: Int
    /// `count * channels * height * width` bytes, 0 = black, 255 = white.
    public let pixels: [UInt8]
    /// One class index per image, each in `0..<classNames.count`.
    public let labels: [Int32]
    /// Human-readable class names, indexed by label.
    public let classNames: [String]

    /// Number of images.
    public var count: Int { labels.count }
    /// Bytes per image (`channels * height * width`).
    public var imageSize: Int { channels * height * width }

    /// Checks sizes and label range; throws a `DataError` naming `name` when they disagree.
    public init(channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int32],
                classNames: [String], name: String = "ImageDataset") throws {
        guard channels > 0, height > 0, width > 0 else {
            throw DataError(name, "image shape \(channels)×\(height)×\(width), expected positive sizes")
        }
        let per = channels * height * width
        guard pixels.count == labels.count * per else {
            throw DataError(name, "\(pixels.count) pixel bytes for \(labels.count) labels, expected "
                            + "\(labels.count) × \(per) = \(labels.count * per)")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classNames.count }) {
            throw DataError(name, "label \(labels[bad]) at index \(bad), expected 0…\(classNames.count - 1)")
        }
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
        self.classNames = classNames
    }

    /// The bytes of image `index` (planar C, H, W).
    public func image(at index: Int) throws -> ArraySlice<UInt8> {
        guard (0..<count).contains(index) else {
            throw DataError("ImageDataset.image", "index \(index), expected 0..<\(count)")
        }
        return pixels[(index * imageSize)..<((index + 1) * imageSize)]
    }

    /// The images at `indices`, in that order (repeats allowed).
    public func subset(_ indices: [Int]) throws -> ImageDataset {
        var px: [UInt8] = []
        px.reserveCapacity(indices.count * imageSize)
        var lb: [Int32] = []
        lb.reserveCapacity(indices.count)
        for i in indices {
            px += try image(at: i)
            lb.append(labels[i])
        }
        return try ImageDataset(channels: channels, height: height, width: width, pixels: px, labels: lb,
                                classNames: classNames)
    }

    /// Images per class, indexed by label.
    public func labelHistogram() -> [Int] {
        var h = [Int](repeating: 0, count: classNames.count)
        for l in labels { h[Int(l)] += 1 }
        return h
    }
}
