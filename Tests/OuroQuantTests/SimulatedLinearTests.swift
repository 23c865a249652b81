import OuroSupport
import OuroEngine
import Testing
@testable import OuroQuant

/// The simulated linear splits long reductions into pieces whose float sums stay exact; the
/// split must not change a single bit, with or without outlier columns.
@Suite("Simulated linear") struct SimulatedLinearTests {
    @Test(arguments: [(8, 8), (8, 16), (4, 8)])
    func splitReductionIsExact(inlierBits: Int, outlierBits: Int) throws {
        let rows = 13, K = 45, N = 19
        var rng = Xoshiro256StarStar(seed: 5)
        let w = QuantizedMatrix.quantize(rng.normals(N * K), rows: N, cols: K, bits: 8)
        let x = rng.normals(rows * K).enumerated().map { $0.offset % 7 == 2 ? $0.element * 30 : $0.element }
        let scales = (0..<rows).map { Float(0.02 + 0.001 * Double($0)) }
        let lists = (0..<rows).map { t in t % 3 == 0 ? [] : [t % K, (t * 7 + 3) % K].sorted() }.map { Array(Set($0)).sorted() }
        let cols = try OutlierColumns(perRow: lists, cols: K)
        let lw = LevelWeights(w)
        func run(_ piece: Int?) -> [Float] {
            var y = [Float](repeating: 0, count: rows * N)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    SimulatedLinear.run(x: xp.baseAddress!, rows: rows, ldx: K, weights: lw, inlierScales: scales,
                                        inlierBits: inlierBits, outliers: cols, outlierBits: outlierBits,
                                        y: yp.baseAddress!, ldy: N, runner: ParallelRunner(threads: 2), exactPiece: piece)
                }
            }
            return y
        }
        let whole = run(nil)
        for piece in [1, 4, 16, 44] {
            #expect(run(piece).map(\.bitPattern) == whole.map(\.bitPattern), "piece \(piece)")
        }
        #expect(whole.contains { $0 != 0 })
    }
}
