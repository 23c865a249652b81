import OuroCluster
import OuroSupport
/// A contiguous range of whole blocks: the unit of one task (cluster.md §5). Shard size is
/// not part of the configuration; the results do not depend on it.
public struct BlockShard: Sendable, Equatable {
    /// First block.
    public var first: Int
    /// Number of blocks (≥ 1).
    public var count: Int

    /// Creates a shard.
    public init(first: Int, count: Int) { self.first = first; self.count = count }

    /// The block indices.
    public var blocks: Range<Int> { first..<(first + count) }

    /// Cuts blocks 0..<`blockCount` into shards of `perTask` blocks (the last may be shorter).
    public static func cut(blockCount: Int, perTask: Int) -> [BlockShard] {
        let step = max(1, perTask)
        return stride(from: 0, to: blockCount, by: step).map { BlockShard(first: $0, count: min(step, blockCount - $0)) }
    }

    /// A readable, deterministic task id such as `gen.b0003` or `calib-pass1.b0000-0003`:
    /// the same on every restart, so the journal can recognise finished shards.
    public func taskId(_ phase: String) -> String {
        count == 1 ? "\(phase).b\(pad(first))" : "\(phase).b\(pad(first))-\(pad(first + count - 1))"
    }

    /// Task metadata fields.
    var json: JSONValue { .object(["first": .int(first), "count": .int(count)]) }

    /// Reads the `shard` field of a task.
    static func parse(_ meta: JSONObject, source: String) throws -> BlockShard {
        guard let first = meta["shard"]?["first"]?.intValue, let count = meta["shard"]?["count"]?.intValue,
              first >= 0, (1...1_000_000).contains(count) else {
            throw JobError("\(source): task has no valid shard {first, count}")
        }
        return BlockShard(first: first, count: count)
    }

    private func pad(_ i: Int) -> String {
        let s = String(i)
        return s.count >= 4 ? s : String(repeating: "0", count: 4 - s.count) + s
    }
}
