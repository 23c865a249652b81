/// How a decoded image becomes a model-sized input (before scaling to [0, 1] and normalising).
public enum ImageTransform: Sendable, Equatable, CustomStringConvertible {
    /// The official Vim/DeiT evaluation transform: resize the shorter side to
    /// `Int(size / cropRatio)` (bicubic with antialiasing, as PIL), centre-crop to `size`.
    case vim(cropRatio: Double)
    /// The image must already be the model's size; it is used as it is.
    case none

    /// Vim's evaluation crop ratio.
    public static let vimCropRatio = 0.875

    /// Parses `vim` or `none`.
    public init(parsing text: String) throws {
        switch text {
        case "vim": self = .vim(cropRatio: Self.vimCropRatio)
        case "none": self = .none
        default: throw DataError("transform", "unknown transform \"\(text)\", expected vim or none")
        }
    }

    /// The transform used when none is named: `vim` for models of 224² and larger (ImageNet
    /// checkpoints), `none` for smaller ones.
    public static func defaultFor(imageSize: Int) -> ImageTransform {
        imageSize >= 224 ? .vim(cropRatio: vimCropRatio) : .none
    }

    public var description: String {
        switch self {
        case .vim: return "vim"
        case .none: return "none"
        }
    }

    /// `image` as a `size` × `size` image with `channels` channels; errors name `name`.
    public func apply(_ image: RasterImage, size: Int, channels: Int, name: String) throws -> RasterImage {
        let img = try image.converted(toChannels: channels)
        switch self {
        case .none:
            guard img.width == size, img.height == size else {
                throw DataError(name, "image is \(img.width)×\(img.height), expected \(size)×\(size) with --transform none "
                                + "(use --transform vim to resize and crop)")
            }
            return img
        case .vim(let ratio):
            let target = Int(Double(size) / ratio)
            // torchvision's Resize(int): the shorter side becomes `target`, the longer side keeps
            // the aspect ratio, truncated.
            let (w, h): (Int, Int)
            if img.width <= img.height {
                w = target; h = Int(Double(target) * Double(img.height) / Double(img.width))
            } else {
                h = target; w = Int(Double(target) * Double(img.width) / Double(img.height))
            }
            let resized = try BicubicResize.resize(img, width: w, height: h)
            guard w >= size, h >= size else {
                throw DataError(name, "resized to \(w)×\(h), smaller than the \(size)×\(size) crop")
            }
            // torchvision's CenterCrop: int(round((side − size) / 2)), Python's round half to even.
            let left = Int((Double(w - size) / 2).rounded(.toNearestOrEven))
            let top = Int((Double(h - size) / 2).rounded(.toNearestOrEven))
            return try resized.cropped(left: left, top: top, width: size, height: size)
        }
    }
}
