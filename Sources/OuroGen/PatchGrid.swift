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

/// The P×P replicate-padded window sum of `PatchGrid.patchedWindow` as a row pass followed by a
/// column pass (2P terms per patch instead of P²), and the adjoint of each pass. Every list holds
/// (source patch, multiplicity) with ascending sources.
struct SeparableWindow: Sendable {
    typealias Taps = [[(patch: Int, count: Int)]]
    /// Row pass: patch (i, j) sums (i, clamp(j + d)) for |d| ≤ P/2.
    let rows: Taps
    /// Column pass: patch (i, j) sums (clamp(i + d), j) for |d| ≤ P/2.
    let columns: Taps
    /// Adjoints: patch q receives from every p whose pass reads q, with the same multiplicity.
    let rowsAdjoint: Taps, columnsAdjoint: Taps
    /// The most terms of one patch in any pass, counting multiplicity.
    let widest: Int

    init(grid: PatchGrid, size P: Int) {
        let s = grid.side, r = P / 2, M = grid.count
        func clamp(_ x: Int) -> Int { min(max(x, 0), s - 1) }
        func taps(_ sources: (Int, Int, Int) -> Int) -> Taps {
            (0..<M).map { p in
                var counts: [Int: Int] = [:]
                for d in -r...r { counts[sources(p / s, p % s, d), default: 0] += 1 }
                return counts.sorted { $0.key < $1.key }.map { (patch: $0.key, count: $0.value) }
            }
        }
        func transpose(_ t: Taps) -> Taps {
            var out = Taps(repeating: [], count: M)
            for p in 0..<M { for (q, c) in t[p] { out[q].append((patch: p, count: c)) } }
            return out
        }
        rows = taps { i, j, d in i * s + clamp(j + d) }
        columns = taps { i, j, d in clamp(i + d) * s + j }
        rowsAdjoint = transpose(rows)
        columnsAdjoint = transpose(columns)
        widest = [rows, columns, rowsAdjoint, columnsAdjoint].flatMap { $0.map { $0.reduce(0) { $0 + $1.count } } }.max() ?? 1
    }
}
