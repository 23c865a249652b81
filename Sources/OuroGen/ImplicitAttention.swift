import Foundation
import OuroEngine
import OuroModel

/// The implicit ("hidden") attention of a layer (`vim-architecture.md` §8) and its patched
/// form (the attention view of the Δ-weighted neighbourhood feature, §8 last paragraph).
///
/// Maps are averaged over channels and combine both scan directions (α_f below the
/// diagonal, α_b above it). Exponents are formed from float64 prefix sums of Δ, so they
/// are never positive and long products never underflow incorrectly.
public struct AttentionMaps: Sendable {
    /// L × L, row = query token t, column = source token s.
    public var standard: [Float]
    /// L × L for patch query rows (the cls row equals its standard row).
    public var patched: [Float]
    public var length: Int
    /// G × G: mean over patch query rows of the attention each patch receives (cls column dropped).
    public var standardGrid: [Float]
    public var patchedGrid: [Float]
    public var gridSide: Int
}

public enum ImplicitAttention {
    /// Maps of image `image` (index into `images`) at `layer`, with the generator's Δ-weights.
    public static func maps(model: VisionMamba, images: Tensor, image: Int, layer: Int, config: GenConfig = GenConfig(),
                            threads: Int = Hardware.cores) throws -> AttentionMaps {
        guard layer >= 0 && layer < model.config.depth else {
            throw GenError("attention: layer \(layer) out of range 0..<\(model.config.depth)")
        }
        guard image >= 0 && image < images.shape[0] else {
            throw GenError("attention: image \(image) out of range 0..<\(images.shape[0])")
        }
        let x = images.slice(outer: image, count: 1)
        let capture = LayerCapture(layer: layer)
        _ = try model.backward(x, parameters: false, layerHook: capture, threads: threads) { Tensor(zeros: $0.shape) }
        guard let a = capture.internals else { throw GenError("attention: layer \(layer) was not reached") }
        let c = model.config, L = c.seqLen, E = c.dInner, N = c.dState, R = c.dtRank, xw = R + 2 * N
        let grid = PatchGrid(side: c.gridSize, clsIndex: c.clsIndex)
        var standard = [Double](repeating: 0, count: L * L), patched = [Double](repeating: 0, count: L * L)
        for dir in ScanDirection.allCases {
            let di = a[dir]
            let w = dir == .forward ? model.weights.layers[layer].forward : model.weights.layers[layer].backward
            let rev = dir == .backward
            // Scan-order views: index i ↔ original position pos(i).
            func pos(_ i: Int) -> Int { rev ? L - 1 - i : i }
            let loss = ContrastiveLoss(grid: grid, E: E, N: N, config: config, raw: false)
            let dv = DirectionView(states: di.states!.ptr, c: di.xdbl.ptr + R + N, ldc: xw, delta: di.delta.ptr)
            let weights = loss.deltaWeights(dv).w
            // Per-token Δ-weight (cls: 1, its patched state is its own state).
            var tokenWeight = [Float](repeating: 1, count: L)
            for p in 0..<grid.count { tokenWeight[grid.position(p)] = weights[p] }
            for e in 0..<E {
                var S = [Double](repeating: 0, count: L)
                var acc = 0.0
                for i in 0..<L { acc += Double(di.delta.pointer[pos(i) * E + e]); S[i] = acc }
                let A = (0..<N).map { -Foundation.exp(Double(w.aLog[e * N + $0])) }
                // kernel(i, j) for source j ≤ state index i: Σ_n C_q[n] B_j[n] exp(A_n (S_i − S_j)) with query q.
                func alpha(query q: Int, state i: Int, source j: Int) -> Double {
                    let d = S[i] - S[j]
                    let cq = di.xdbl.ptr + pos(q) * xw + R + N, bj = di.xdbl.ptr + pos(j) * xw + R
                    var s = 0.0
                    for n in 0..<N { s += Double(cq[n]) * Double(bj[n]) * Foundation.exp(A[n] * d) }
                    return Double(di.delta.pointer[pos(j) * E + e]) * s
                }
                for i in 0..<L {
                    for j in 0...i { standard[pos(i) * L + pos(j)] += alpha(query: i, state: i, source: j) / Double(E) }
                }
                // Patched: query patch p reads the Δ-weighted states of its window with its own C.
                for p in 0..<grid.count {
                    let qi = rev ? L - 1 - grid.position(p) : grid.position(p)
                    for q in grid.patchedWindow(p, size: config.patchNbhd) {
                        let k = rev ? L - 1 - grid.position(q) : grid.position(q)
                        let wk = Double(tokenWeight[grid.position(q)])
                        if wk == 0 { continue }
                        for j in 0...k { patched[pos(qi) * L + pos(j)] += wk * alpha(query: qi, state: k, source: j) / Double(E) }
                    }
                }
            }
        }
        // The cls row of the patched map is its standard row (h_p(c) = h(c)).
        for s in 0..<L { patched[c.clsIndex * L + s] = standard[c.clsIndex * L + s] }
        func toGrid(_ m: [Double]) -> [Float] {
            var g = [Float](repeating: 0, count: grid.count)
            for p in 0..<grid.count {
                var s = 0.0
                for q in 0..<grid.count { s += m[grid.position(q) * L + grid.position(p)] }
                g[p] = Float(s / Double(grid.count))
            }
            return g
        }
        return AttentionMaps(standard: standard.map { Float($0) }, patched: patched.map { Float($0) }, length: L,
                             standardGrid: toGrid(standard), patchedGrid: toGrid(patched), gridSide: grid.side)
    }
}

/// Captures one layer's recomputed internals during a backward pass.
final class LayerCapture: BackwardLayerHook {
    let layer: Int
    var internals: MixerInternals?
    init(layer: Int) { self.layer = layer }
    func layerBackward(layer l: Int, internals a: MixerInternals, gHidden: FloatBuffer) -> [DirectionExtraGradients?]? {
        if l == layer { internals = a }
        return nil
    }
}
