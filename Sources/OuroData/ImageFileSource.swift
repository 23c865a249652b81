import OuroSupport
import Foundation
import OuroEngine

/// Image files with labels: an ImageNet-style folder or a file list, decoded and preprocessed
/// on demand (`read`), so memory holds one batch at a time.
public struct ImageFileSource: LabelledImageSource {
    /// One listed image.
    public struct Entry: Sendable, Equatable {
        public let path: String
        public let label: Int32
    }

    /// The listed images, in source order.
    public let entries: [Entry]
    public let classNames: [String]
    public let channels: Int
    /// Output side length (images are square, as the model's input).
    public let size: Int
    public let transform: ImageTransform
    public let policy: BadImagePolicy
    public let listingProblems: [BadImage]

    public var count: Int { entries.count }
    public var height: Int { size }
    public var width: Int { size }

    /// Wraps a listing; entries with labels outside `0..<classNames.count` are errors (or
    /// left out and listed under `.skip`).
    public init(entries: [Entry], classNames: [String], channels: Int, size: Int, transform: ImageTransform,
                policy: BadImagePolicy, listingProblems: [BadImage] = [], context: String) throws {
        guard channels == 1 || channels == 3 else { throw DataError(context, "\(channels) channels, expected 1 or 3") }
        guard size > 0 else { throw DataError(context, "image size \(size), expected > 0") }
        var kept: [Entry] = [], problems = listingProblems
        for e in entries {
            if e.label < 0 || Int(e.label) >= classNames.count {
                let why = "label \(e.label) is out of range, expected 0…\(classNames.count - 1) (the model has \(classNames.count) classes)"
                guard policy == .skip else { throw DataError(e.path, why) }
                problems.append(BadImage(path: e.path, reason: why))
            } else {
                kept.append(e)
            }
        }
        self.entries = kept
        self.classNames = classNames
        self.channels = channels
        self.size = size
        self.transform = transform
        self.policy = policy
        self.listingProblems = problems
    }

    /// Decodes and transforms the images at `indices` in parallel; output is identical for any
    /// thread count.
    public func read(_ indices: [Int], threads: Int) throws -> SourceBatch {
        if let bad = indices.first(where: { !(0..<count).contains($0) }) {
            throw DataError("ImageFileSource.read", "index \(bad), expected 0..<\(count)")
        }
        let per = channels * size * size
        var results = [Result<RasterImage, Error>?](repeating: nil, count: indices.count)
        results.withUnsafeMutableBufferPointer { slots in
            // Each iteration writes its own slot only (the parallel-for's contract).
            let out = slots.baseAddress!
            ParallelRunner(threads: threads).forEach(indices.count) { k in
                let e = entries[indices[k]]
                out[k] = Result { try transform.apply(try ImageDecoder.decode(file: e.path), size: size, channels: channels, name: e.path) }
            }
        }
        var pixels = [UInt8](repeating: 0, count: indices.count * per)
        var labels: [Int32] = [], kept: [Int] = [], bad: [BadImage] = []
        for (k, r) in results.enumerated() {
            let e = entries[indices[k]]
            switch r! {
            case .success(let img):
                img.copyPlanar(into: &pixels, at: kept.count * per)
                labels.append(e.label)
                kept.append(indices[k])
            case .failure(let err):
                guard policy == .skip else { throw err }
                bad.append(BadImage(path: e.path, reason: (err as? DataError)?.message ?? "\(err)"))
            }
        }
        pixels.removeLast((indices.count - kept.count) * per)
        let ds = try ImageDataset(channels: channels, height: size, width: size, pixels: pixels, labels: labels,
                                  classNames: classNames, name: "image files")
        return SourceBatch(images: ds, indices: kept, bad: bad)
    }
}

extension ImageFileSource {
    /// torchvision's `ImageFolder` rule: one subfolder per class, class index = the position of
    /// its name in sorted (code point) order, files found recursively and sorted within each class.
    /// Every regular file must be an image (.jpg, .jpeg, .png); hidden entries are ignored.
    ///
    /// - Throws: `DataError` naming the folder or file for a missing folder, no class folders,
    ///   an empty class folder, a non-image file or more classes than `classCount` (under
    ///   `.skip` the latter three are left out and listed instead).
    public static func imageFolder(_ directory: String, classCount: Int, channels: Int, size: Int,
                                   transform: ImageTransform, policy: BadImagePolicy) throws -> ImageFileSource {
        let root = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        let classes = try listDirectory(root).filter { isDirectory(root + "/" + $0) }
        guard !classes.isEmpty else {
            throw DataError(root, "no class folders: expected one subfolder per class (ImageNet layout DIR/CLASS/IMAGE.JPEG)")
        }
        var entries: [Entry] = [], problems: [BadImage] = []
        for (label, name) in classes.enumerated() {
            let dir = root + "/" + name
            var files: [String] = []
            try collectFiles(dir, into: &files)
            var images = 0
            for f in files {
                if isImageName(f) { entries.append(Entry(path: f, label: Int32(label))); images += 1; continue }
                let why = "not an image file (expected .jpg, .jpeg or .png)"
                guard policy == .skip else { throw DataError(f, why) }
                problems.append(BadImage(path: f, reason: why))
            }
            if images == 0 {
                let why = "empty class folder (class \(label) \"\(name)\" has no images)"
                guard policy == .skip else { throw DataError(dir, why) }
                problems.append(BadImage(path: dir, reason: why))
            }
        }
        if classes.count > classCount && policy == .fail {
            throw DataError(root, "\(classes.count) class folders, but the model has \(classCount) classes "
                            + "(first out of range: \"\(classes[classCount])\")")
        }
        let names = (0..<classCount).map { $0 < classes.count ? classes[$0] : "class \($0)" }
        return try ImageFileSource(entries: entries, classNames: names, channels: channels, size: size, transform: transform,
                                   policy: policy, listingProblems: problems, context: root)
    }

    /// A text file of `relative/path label` lines (paths relative to the file's folder; blank
    /// lines and lines starting with `#` are ignored; the label is the last field, so paths may
    /// hold spaces).
    ///
    /// - Throws: `DataError` naming the file and line for a line without a label, a label that
    ///   is not an integer, or (unless `.skip`) a label outside `0..<classCount`.
    public static func fileList(_ file: String, classCount: Int, channels: Int, size: Int,
                                transform: ImageTransform, policy: BadImagePolicy) throws -> ImageFileSource {
        let bytes = try FileIO.contents(of: file)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw DataError(file, "not UTF-8 text") }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent().path
        var entries: [Entry] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(where: { $0 == " " || $0 == "\t" }) else {
                throw DataError("\(file):\(n + 1)", "\"\(line)\": expected 'relative/path label'")
            }
            let path = line[..<space].trimmingCharacters(in: .whitespaces)
            let labelText = line[line.index(after: space)...]
            guard !path.isEmpty, let label = Int32(labelText) else {
                throw DataError("\(file):\(n + 1)", "\"\(line)\": expected 'relative/path label' with an integer label")
            }
            entries.append(Entry(path: path.hasPrefix("/") ? path : base + "/" + path, label: label))
        }
        guard !entries.isEmpty else { throw DataError(file, "no entries: expected lines of 'relative/path label'") }
        return try ImageFileSource(entries: entries, classNames: (0..<classCount).map { "class \($0)" }, channels: channels,
                                   size: size, transform: transform, policy: policy, context: file)
    }

    /// Image files given by path, or every image under a folder (sorted, recursive), unlabelled
    /// (label 0), for `infer`.
    public static func files(_ paths: [String], channels: Int, size: Int, transform: ImageTransform) throws -> ImageFileSource {
        var list: [String] = []
        for p in paths {
            if isDirectory(p) {
                var found: [String] = []
                try collectFiles(p.hasSuffix("/") ? String(p.dropLast()) : p, into: &found)
                let images = found.filter(isImageName)
                guard !images.isEmpty else { throw DataError(p, "no .jpg, .jpeg or .png files in this folder") }
                list += images
            } else {
                list.append(p)
            }
        }
        guard !list.isEmpty else { throw DataError("images", "no image files given") }
        return try ImageFileSource(entries: list.map { Entry(path: $0, label: 0) }, classNames: ["unlabelled"], channels: channels,
                                   size: size, transform: transform, policy: .fail, context: "images")
    }

    static func isImageName(_ path: String) -> Bool {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return false }
        return ImageFormat.extensions.contains(path[path.index(after: dot)...].lowercased())
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Non-hidden names in `dir`, sorted by code point (Python's `sorted`).
    static func listDirectory(_ dir: String) throws -> [String] {
        guard isDirectory(dir) else { throw DataError(dir, "no such folder") }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) }
        catch { throw DataError(dir, "cannot list the folder: \(error.localizedDescription)") }
        return names.filter { !$0.hasPrefix(".") }.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
    }

    /// Regular files under `dir`, recursively: files of a folder sorted, then its subfolders in sorted order.
    static func collectFiles(_ dir: String, into out: inout [String]) throws {
        let names = try listDirectory(dir)
        var subdirs: [String] = []
        for n in names {
            let p = dir + "/" + n
            if isDirectory(p) { subdirs.append(p) } else { out.append(p) }
        }
        for d in subdirs { try collectFiles(d, into: &out) }
    }
}
