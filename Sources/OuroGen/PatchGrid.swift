/// Geometry of the patch grid: sequence positions, patched-state windows and candidate windows.
public struct PatchGrid: Sendable {
    public let side: Int, clsIndex: Int
    public var count: Int { side * side }

    public init(side: Int, clsIndex: Int) { self.side = side; self.clsIndex = clsIndex }

    /// Sequence position σ(p) of patch p (the cls token sits at `clsIndex`).
    @inline(__always) public func position(_ p: Int) -> Int { p < clsIndex ? p : p + 1 }

    /// The P×P window around p with replicate padding: a multiset of P² patches.
    public func patchedWindow(_ p: Int, size P: Int) -> [Int] {
        let i = p / side, j = p % side, r = P / 2
        var out: [Int] = []
        out.reserveCapacity(P * P)
        for di in -r...r {
            for dj in -r...r {
                let ii = min(max(i + di, 0), side - 1), jj = min(max(j + dj, 0), side - 1)
                out.append(ii * side + jj)
            }
        }
        return out
    }

    /// The other patches of the K×K window around p, without padding, ascending.
    public func candidates(_ p: Int, size K: Int) -> [Int] {
        let i = p / side, j = p % side, r = K / 2
        var out: [Int] = []
        for ii in max(0, i - r)...min(side - 1, i + r) {
            for jj in max(0, j - r)...min(side - 1, j + r) where !(ii == i && jj == j) {
                out.append(ii * side + jj)
            }
        }
        return out
    }

    /// Number of positives k(p) for a window with `n` candidates (`method.md` §3.5).
    public static func positives(candidates n: Int, k: Int, windowSize K: Int, rule: String) -> Int {
        if rule == "clip" { return max(1, min(k, n - 1)) }
        // Round half up: floor(x + 0.5) computed exactly in integers.
        let num = 2 * k * n + (K * K - 1), den = 2 * (K * K - 1)
        return max(1, min(n - 1, num / den))
    }
}
