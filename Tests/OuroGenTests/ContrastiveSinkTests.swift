import Testing
import OuroEngine
@testable import OuroGen

/// The contrastive loss writes its state-gradient sink at every patch position without reading
/// it (so `GenLossHook` zeroes only the class token's rows): a sink prefilled with NaN comes
/// back with the bits of a zeroed one at the patches, and untouched at the class token.
@Suite struct ContrastiveSinkTests {
    @Test(arguments: [GeneratorKind.ouromamba, .contrastiveRaw])
    func theStateSinkIsWrittenNotRead(generator: GeneratorKind) {
        let side = 3, cls = 4, E = 4, N = 2, L = side * side + 1
        let grid = PatchGrid(side: side, clsIndex: cls)
        var config = GenConfig()
        config.generator = generator
        config.contrastNbhd = 3; config.contrastTopk = 2
        var rng = Xoshiro256StarStar(seed: 7)
        let states = (0..<(L * N * E)).map { _ in Float(rng.nextUniform()) - 0.5 }
        let c = (0..<(L * N)).map { _ in Float(rng.nextUniform()) - 0.5 }
        let delta = (0..<(L * E)).map { _ in Float(rng.nextUniform()) + 0.1 }
        func run(prefill: Float) -> (states: [Float], c: [Float], delta: [Float]) {
            var gs = [Float](repeating: prefill, count: L * N * E), gc = [Float](repeating: 0, count: L * N)
            var gd = [Float](repeating: 0, count: L * E)
            let loss = ContrastiveLoss(grid: grid, E: E, N: N, config: config, raw: generator == .contrastiveRaw)
            states.withUnsafeBufferPointer { sp in c.withUnsafeBufferPointer { cp in delta.withUnsafeBufferPointer { dp in
                gs.withUnsafeMutableBufferPointer { gsp in gc.withUnsafeMutableBufferPointer { gcp in gd.withUnsafeMutableBufferPointer { gdp in
                    let view = DirectionView(states: sp.baseAddress!, c: cp.baseAddress!, ldc: N, delta: dp.baseAddress!)
                    let sink = DirectionGradSink(states: gsp.baseAddress!, c: gcp.baseAddress!, delta: gdp.baseAddress!)
                    // Both directions share one sink here: each writes every patch position.
                    _ = loss.evaluate([view, view], sinks: [sink, sink], scale: 1)
                }}}
            }}}
            return (gs, gc, gd)
        }
        let zeroed = run(prefill: 0), poisoned = run(prefill: .nan)
        for t in 0..<L {
            let row = (t * N * E)..<((t + 1) * N * E)
            if t == cls {
                let untouched = poisoned.states[row].allSatisfy { $0.isNaN }
                #expect(untouched, "the class token's rows were written")
            } else {
                #expect(poisoned.states[row].map(\.bitPattern) == zeroed.states[row].map(\.bitPattern), "position \(t)")
            }
        }
        // (A patch whose Δ-weight normalises to 0 gets a zero row, written all the same.)
        let nonzero = zeroed.states.filter { $0 != 0 }.count
        #expect(nonzero > L * N * E / 2, "only \(nonzero) non-zero state gradients")
        #expect(poisoned.c.map(\.bitPattern) == zeroed.c.map(\.bitPattern) && poisoned.delta.map(\.bitPattern) == zeroed.delta.map(\.bitPattern))
    }
}
