/// A dataset named on the command line: `fashion-mnist[:DIR]`, `imagefolder:DIR` or `filelist:FILE`.
public enum DatasetSpec: Sendable, Equatable, CustomStringConvertible {
    /// Fashion-MNIST read from `directory` (IDX gzip files; train and test splits).
    case fashionMNIST(directory: String)
    /// An ImageNet-style folder: one subfolder per class (torchvision's `ImageFolder` rule).
    case imageFolder(directory: String)
    /// A text file of `relative/path label` lines.
    case fileList(file: String)

    /// Names accepted before the `:`.
    public static let knownNames = ["fashion-mnist", "imagefolder", "filelist"]

    /// Parses `fashion-mnist`, `fashion-mnist:DIR`, `imagefolder:DIR` or `filelist:FILE`;
    /// throws for an unknown name or an empty path.
    public init(parsing text: String) throws {
        let name: Substring, path: Substring?
        if let colon = text.firstIndex(of: ":") {
            name = text[..<colon]
            path = text[text.index(after: colon)...]
        } else {
            name = Substring(text)
            path = nil
        }
        func required(_ what: String) throws -> String {
            guard let p = path, !p.isEmpty else {
                throw DataError("dataset spec", "\"\(text)\": expected \(name):\(what)")
            }
            return String(p)
        }
        switch name {
        case "fashion-mnist":
            if let d = path, d.isEmpty {
                throw DataError("dataset spec", "\"\(text)\": empty directory after ':', expected fashion-mnist:/some/dir")
            }
            self = .fashionMNIST(directory: path.map(String.init) ?? FashionMNIST.defaultDirectory)
        case "imagefolder": self = .imageFolder(directory: try required("DIR"))
        case "filelist": self = .fileList(file: try required("FILE"))
        default:
            throw DataError("dataset spec", "unknown dataset \"\(name)\" in \"\(text)\", expected fashion-mnist[:DIR], "
                            + "imagefolder:DIR or filelist:FILE")
        }
    }

    /// The canonical text form, which parses back to the same value.
    public var description: String {
        switch self {
        case .fashionMNIST(let d): return d == FashionMNIST.defaultDirectory ? "fashion-mnist" : "fashion-mnist:\(d)"
        case .imageFolder(let d): return "imagefolder:\(d)"
        case .fileList(let f): return "filelist:\(f)"
        }
    }

    /// Loads `split` of Fashion-MNIST into memory; image files are opened with `open` instead.
    public func load(split: DatasetSplit) throws -> ImageDataset {
        switch self {
        case .fashionMNIST(let d): return try FashionMNIST.load(directory: d, split: split)
        case .imageFolder, .fileList:
            throw DataError("dataset spec", "\(description) is read on demand: open it with the model's geometry")
        }
    }

    /// How images are turned into model inputs.
    public struct Geometry: Sendable, Equatable {
        /// Model classes (labels must lie below).
        public var classCount: Int
        /// Model input channels (1: luminance, 3: RGB).
        public var channels: Int
        /// Model input side length.
        public var size: Int
        public init(classCount: Int, channels: Int, size: Int) {
            self.classCount = classCount; self.channels = channels; self.size = size
        }
    }

    /// The images of `split` (Fashion-MNIST) or of the whole folder or list, for a model of
    /// `geometry`. `transform` nil picks `ImageTransform.defaultFor(imageSize:)`; it applies to
    /// image files only (Fashion-MNIST is already 28×28 luminance).
    public func open(split: DatasetSplit, geometry g: Geometry, transform: ImageTransform?,
                     policy: BadImagePolicy) throws -> any LabelledImageSource {
        let t = transform ?? ImageTransform.defaultFor(imageSize: g.size)
        switch self {
        case .fashionMNIST: return try load(split: split)
        case .imageFolder(let d):
            return try ImageFileSource.imageFolder(d, classCount: g.classCount, channels: g.channels, size: g.size, transform: t, policy: policy)
        case .fileList(let f):
            return try ImageFileSource.fileList(f, classCount: g.classCount, channels: g.channels, size: g.size, transform: t, policy: policy)
        }
    }
}
