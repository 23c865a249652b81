/// A dataset named on the command line: `fashion-mnist` or `fashion-mnist:/some/dir`.
public enum DatasetSpec: Sendable, Equatable, CustomStringConvertible {
    /// Fashion-MNIST read from `directory`.
    case fashionMNIST(directory: String)

    /// Names accepted before the optional `:directory`.
    public static let knownNames = ["fashion-mnist"]

    /// Parses `name` or `name:directory`; throws for an unknown name or an empty directory.
    public init(parsing text: String) throws {
        let name: Substring, dir: Substring?
        if let colon = text.firstIndex(of: ":") {
            name = text[..<colon]
            dir = text[text.index(after: colon)...]
        } else {
            name = Substring(text)
            dir = nil
        }
        switch name {
        case "fashion-mnist":
            if let d = dir, d.isEmpty {
                throw DataError("dataset spec", "\"\(text)\": empty directory after ':', expected fashion-mnist:/some/dir")
            }
            self = .fashionMNIST(directory: dir.map(String.init) ?? FashionMNIST.defaultDirectory)
        default:
            throw DataError("dataset spec", "unknown dataset \"\(name)\" in \"\(text)\", expected one of "
                            + DatasetSpec.knownNames.joined(separator: ", ") + " (optionally followed by :directory)")
        }
    }

    /// The canonical text form, which parses back to the same value.
    public var description: String {
        switch self {
        case .fashionMNIST(let d):
            return d == FashionMNIST.defaultDirectory ? "fashion-mnist" : "fashion-mnist:\(d)"
        }
    }

    /// Loads `split` of the dataset.
    public func load(split: DatasetSplit) throws -> ImageDataset {
        switch self {
        case .fashionMNIST(let d): return try FashionMNIST.load(directory: d, split: split)
        }
    }
}
