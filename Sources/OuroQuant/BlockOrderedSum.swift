/// Per-block Double partials of an additive statistic, summed in block order
/// (`cluster.md` §6): ((b0 + b1) + b2) + … whatever the order in which blocks arrive or are
/// grouped into shards, so every split of the blocks gives bit-identical totals.
///
/// Blocks 0..<`foldedThrough` are already folded into `folded`; the others wait in `pending`
/// until the blocks before them arrive.
public struct BlockOrderedSum: Equatable, Sendable {
    /// Values per block.
    public let width: Int
    /// Blocks 0..<foldedThrough are summed into `folded`.
    public private(set) var foldedThrough: Int
    public private(set) var folded: [Double]
    /// Blocks not yet folded (block index → partial).
    public private(set) var pending: [Int: [Double]]

    /// No blocks.
    public init(width: Int) {
        self.width = width; foldedThrough = 0; folded = [Double](repeating: 0, count: width); pending = [:]
    }

    /// One block's partial.
    public init(block: Int, values: [Double]) {
        self.init(width: values.count)
        pending[block] = values
        fold()
    }

    /// Rebuilds a decoded state (checked).
    public init(width: Int, foldedThrough: Int, folded: [Double], pending: [Int: [Double]]) throws {
        guard folded.count == width, foldedThrough >= 0, pending.values.allSatisfy({ $0.count == width }),
              pending.keys.allSatisfy({ $0 >= foldedThrough }) else {
            throw QuantError("block sum: inconsistent state (width \(width), folded through \(foldedThrough), pending \(pending.keys.sorted()))")
        }
        self.width = width; self.foldedThrough = foldedThrough; self.folded = folded; self.pending = pending
        fold()
    }

    /// Every block index held.
    public var blocks: [Int] { Array(0..<foldedThrough) + pending.keys.sorted() }

    /// Adds another set of blocks; overlapping blocks or widths are an error (never a warning).
    public mutating func merge(_ other: BlockOrderedSum) throws {
        guard other.width == width else { throw QuantError("block sum: width \(other.width) merged into \(width)") }
        let mine = Set(blocks), theirs = Set(other.blocks)
        if let dup = mine.intersection(theirs).min() { throw QuantError("block sum: block \(dup) merged twice") }
        if other.foldedThrough > 0 {
            // Our fold is empty (block 0 would be duplicated otherwise): take theirs.
            let mine = pending
            folded = other.folded; foldedThrough = other.foldedThrough; pending = other.pending
            for (b, v) in mine { pending[b] = v }
        } else {
            for (b, v) in other.pending { pending[b] = v }
        }
        fold()
    }

    private mutating func fold() {
        while let v = pending.removeValue(forKey: foldedThrough) {
            if foldedThrough == 0 { folded = v } else { for j in 0..<width { folded[j] += v[j] } }
            foldedThrough += 1
        }
    }

    /// The total over blocks 0..<blockCount; throws when a block is missing or extra.
    public func total(blockCount: Int, what: String) throws -> [Double] {
        guard pending.isEmpty, foldedThrough == blockCount else {
            let have = blocks
            let missing = Set(0..<blockCount).subtracting(have).sorted()
            throw QuantError("\(what): blocks \(have) present, expected 0..<\(blockCount) (missing \(missing))")
        }
        return folded
    }
}
