import Testing
@testable import OuroGen

/// The row and column passes compose to exactly the multiset window of `patchedWindow`, and the
/// adjoint lists are their transposes.
@Suite struct SeparableWindowTests {
    @Test(arguments: [(1, 1), (1, 3), (2, 3), (7, 3), (7, 5), (14, 3), (4, 7)])
    func passesComposeToTheWindow(side: Int, size: Int) {
        let grid = PatchGrid(side: side, clsIndex: side * side / 2)
        let w = SeparableWindow(grid: grid, size: size)
        var widest = 0
        for p in 0..<grid.count {
            var composed: [Int: Int] = [:]
            for c in w.columns[p] { for r in w.rows[c.patch] { composed[r.patch, default: 0] += c.count * r.count } }
            let direct = grid.patchedWindow(p, size: size).reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
            #expect(composed == direct, "side \(side), P \(size), patch \(p)")
            widest = max(widest, w.rows[p].reduce(0) { $0 + $1.count }, w.rowsAdjoint[p].reduce(0) { $0 + $1.count })
        }
        for (pass, adjoint) in [(w.rows, w.rowsAdjoint), (w.columns, w.columnsAdjoint)] {
            var forward: [[Int]: Int] = [:], backward: [[Int]: Int] = [:]
            for p in 0..<grid.count {
                for t in pass[p] { forward[[p, t.patch]] = t.count }
                for t in adjoint[p] { backward[[t.patch, p]] = t.count }
                #expect(pass[p].map(\.patch) == pass[p].map(\.patch).sorted() && adjoint[p].map(\.patch) == adjoint[p].map(\.patch).sorted())
            }
            #expect(forward == backward, "side \(side), P \(size): the adjoint is not the transpose")
        }
        #expect(w.widest >= widest && w.widest >= size)
    }
}
