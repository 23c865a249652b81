/// Which half of a dataset to load.
public enum DatasetSplit: String, Sendable, CaseIterable {
    /// The training images (60,000 for Fashion-MNIST).
    case train
    /// The held-out test images (10,000 for Fashion-MNIST).
    case test
}

/// Zalando's Fashion-MNIST as shipped by Debian's `dataset-fashion-mnist` (gzip'd IDX files).
public enum FashionMNIST {
    /// Where the Debian package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The ten classes, indexed by label.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// Per-channel mean of pixel/255 over the training split (0.286040597, measured).
    public static let mean: [Float] = [0.2860406]
    /// Per-channel population std of pixel/255 over the training split (0.353024245, measured).
    public static let std: [Float] = [0.3530242]

    /// Paths of the image and label files of `split` in `directory`.
    public static func files(directory: String = defaultDirectory,
                             split: DatasetSplit) -> (images: String, labels: String) {
        let prefix = split == .train ? "train" : "t10k"
        let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return ("\(dir)/\(prefix)-images-idx3-ubyte.gz", "\(dir)/\(prefix)-labels-idx1-ubyte.gz")
    }

    /// True when all four files exist in `directory` (tests skip when not).
    public static func isAvailable(directory: String = defaultDirectory) -> Bool {
        DatasetSplit.allCases.allSatisfy { split in
            let f = files(directory: directory, split: split)
            return FileIO.isReadableFile(f.images) && FileIO.isReadableFile(f.labels)
        }
    }

    /// Loads one split: gunzips and validates both IDX files.
    ///
    /// - Throws: `DataError` naming the file for a missing file, corrupt or truncated gzip,
    ///   a bad IDX magic (0x803 images, 0x801 labels), a body of the wrong length, image and
    ///   label counts that differ, or a label outside 0…9.
    public static func load(directory: String = defaultDirectory, split: DatasetSplit) throws -> ImageDataset {
        let f = files(directory: directory, split: split)
        let imgName = baseName(f.images), lblName = baseName(f.labels)
        let images = try IDX.parse(try Zlib.inflate(try FileIO.contents(of: f.images), format: .gzip, name: imgName),
                                   name: imgName, expectedMagic: IDX.magic(rank: 3), role: "images")
        let labels = try IDX.parse(try Zlib.inflate(try FileIO.contents(of: f.labels), format: .gzip, name: lblName),
                                   name: lblName, expectedMagic: IDX.magic(rank: 1), role: "labels")
        guard images.dims[0] == labels.dims[0] else {
            throw DataError(lblName, "\(labels.dims[0]) labels, expected \(images.dims[0]) (one per image in \(imgName))")
        }
        if let bad = labels.data.firstIndex(where: { Int($0) >= classNames.count }) {
            throw DataError(lblName, "label \(labels.data[bad]) at index \(bad), expected 0…\(classNames.count - 1)")
        }
        return try ImageDataset(channels: 1, height: images.dims[1], width: images.dims[2], pixels: images.data,
                                labels: labels.data.map { Int32($0) }, classNames: classNames, name: imgName)
    }
}
