import OuroEngine

/// Seeded orderings: per-epoch shuffles and fixed calibration subsets.
public enum Shuffler {
    /// The visiting order of `count` samples in `epoch`: a permutation from
    /// `Xoshiro256StarStar(seed: seed, stream: UInt64(epoch))`, so every epoch differs and
    /// any epoch can be recomputed on its own (resume, sharding).
    public static func epochOrder(count: Int, seed: UInt64, epoch: Int) throws -> [Int] {
        guard count >= 0, epoch >= 0 else {
            throw DataError("Shuffler.epochOrder", "count \(count), epoch \(epoch): expected both ≥ 0")
        }
        var rng = Xoshiro256StarStar(seed: seed, stream: UInt64(epoch))
        return rng.permutation(count)
    }

    /// The first `n` entries of a seeded permutation of `0..<total` (for `real:N` calibration
    /// sources), in permutation order. `Xoshiro256StarStar(seed: seed)` draws the permutation.
    public static func seededSubset(count n: Int, of total: Int, seed: UInt64) throws -> [Int] {
        guard n >= 0, n <= total else {
            throw DataError("Shuffler.seededSubset", "\(n) of \(total) samples, expected 0…\(max(total, 0))")
        }
        var rng = Xoshiro256StarStar(seed: seed)
        return Array(rng.permutation(total).prefix(n))
    }
}
