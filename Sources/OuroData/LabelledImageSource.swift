import OuroEngine

/// A file that could not be used, and why (for `--skip-bad` reports).
public struct BadImage: Sendable, Equatable, CustomStringConvertible {
    /// The file or folder concerned.
    public let path: String
    /// What was wrong with it.
    public let reason: String

    public init(path: String, reason: String) { self.path = path; self.reason = reason }

    public var description: String { "\(path): \(reason)" }
}

/// What to do with an unreadable image, an empty class folder or a label out of range.
public enum BadImagePolicy: Sendable, Equatable {
    /// Stop with an error naming the file.
    case fail
    /// Leave it out, and list it.
    case skip
}

/// The images of one request, decoded and preprocessed, in request order, with the requested
/// positions that were left out under `BadImagePolicy.skip`.
public struct SourceBatch: Sendable {
    /// The good images, in the order requested.
    public var images: ImageDataset
    /// The source index of each image in `images`.
    public var indices: [Int]
    /// The images left out, and why.
    public var bad: [BadImage]
}

/// A labelled image collection read on demand: an in-memory dataset, or image files decoded
/// and preprocessed batch by batch so memory stays bounded at any dataset size.
public protocol LabelledImageSource: Sendable {
    /// Number of listed images.
    var count: Int { get }
    /// Channels of every image returned.
    var channels: Int { get }
    /// Height of every image returned.
    var height: Int { get }
    /// Width of every image returned.
    var width: Int { get }
    /// Class names, indexed by label.
    var classNames: [String] { get }
    /// Problems found while listing (empty class folders, labels out of range) that
    /// `BadImagePolicy.skip` left out.
    var listingProblems: [BadImage] { get }
    /// The images at `indices`, decoded on up to `threads` threads.
    func read(_ indices: [Int], threads: Int) throws -> SourceBatch
}

extension ImageDataset: LabelledImageSource {
    public var listingProblems: [BadImage] { [] }

    public func read(_ indices: [Int], threads: Int) throws -> SourceBatch {
        SourceBatch(images: try subset(indices), indices: indices, bad: [])
    }
}

extension LabelledImageSource {
    /// Visits the first `count` images `batch` at a time, in order: `body` gets the batch and
    /// the number of source images consumed so far (good or bad).
    public func forEachBatch(count: Int, batch: Int, threads: Int, _ body: (SourceBatch, Int) throws -> Void) throws {
        var i = 0
        while i < count {
            let n = min(batch, count - i)
            try body(try read(Array(i..<(i + n)), threads: threads), i + n)
            i += n
        }
    }
}
