import Foundation
import OuroEngine
import OuroModel

/// One direction's internals of one image, in original positions.
struct DirectionView {
    /// h as [t][n][e].
    let states: UnsafePointer<Float>
    /// C(t)[n] = c[t·ldc + n].
    let c: UnsafePointer<Float>
    let ldc: Int
    /// Δ(t)[e] = delta[t·E + e] (post-softplus).
    let delta: UnsafePointer<Float>
}

/// Gradient sinks of one direction of one image (original positions). `states` is written at
/// every patch position (the loss is its only term there, so the caller need not zero it);
/// `c` and `delta` are added to.
struct DirectionGradSink {
    let states: UnsafeMutablePointer<Float>   // [t][n][e]
    let c: UnsafeMutablePointer<Float>        // [t][n]
    let delta: UnsafeMutablePointer<Float>    // [t][e]
}

/// Per-image, per-layer values of the contrastive loss (for tests and inspection).
public struct ContrastiveDetails: Sendable {
    /// L_C,l of this image and layer.
    public var loss: Double
    /// ℓ(p) per patch.
    public var ell: [Double]
    /// f(p) (M × 2E), forward half first.
    public var features: [Float]
    /// Positive sets, ascending patch indices.
    public var positives: [[Int]]
    /// Δ-weights w(p) per direction (M each); all 1 for raw or uniform weighting.
    public var weights: [[Float]]
}

/// The patch-level InfoNCE loss on (patched) SSM features (`method.md` §3.3–3.5, §3.10).
struct ContrastiveLoss {
    let grid: PatchGrid
    let E: Int, N: Int
    let config: GenConfig
    /// `contrastive-raw`: features from each patch's own state, no Δ weights.
    let raw: Bool
    /// The patched-state window (a single patch for raw features).
    let window: SeparableWindow

    init(grid: PatchGrid, E: Int, N: Int, config: GenConfig, raw: Bool) {
        self.grid = grid; self.E = E; self.N = N; self.config = config; self.raw = raw
        window = SeparableWindow(grid: grid, size: raw ? 1 : config.patchNbhd)
    }

    typealias Result = ContrastiveDetails
    typealias DeltaWeights = (w: [Float], mean: [Double], qMin: Int, qMax: Int, z: Double)

    /// Candidates of every patch (ascending, the K×K window without padding).
    func candidateLists() -> [[Int]] { (0..<M).map { grid.candidates($0, size: config.contrastNbhd) } }

    /// First candidate slot of each patch (slot k = starts[p] + i holds candidate i of p), and the total.
    static func slotStarts(_ candidates: [[Int]]) -> [Int] { candidates.reduce(into: [0]) { $0.append($0.last! + $1.count) } }

    /// The InfoNCE step of one image on flat per-slot arrays: from the similarities s(p, q_i),
    /// writes each slot's coefficient G(p, i) of ∂loss/∂s(p, q_i) (times `scale`), whether it is
    /// a positive, and each patch's ℓ(p); returns the loss (mean ℓ). Allocation-free per patch.
    /// The GPU kernel `gen_infonce` follows this arithmetic; the GPU path calls this function for
    /// candidate windows too wide for that kernel.
    func infoNCE(candidates: [[Int]], starts: [Int], sims: UnsafePointer<Double>, scale: Double,
                 coefficients: UnsafeMutablePointer<Double>, positive: UnsafeMutablePointer<Bool>,
                 ell: UnsafeMutablePointer<Double>) -> Double {
        let tau = Double(config.tau)
        let widest = candidates.map(\.count).max() ?? 0
        var order = [Int](repeating: 0, count: widest), ex = [Double](repeating: 0, count: widest)
        var total = 0.0
        for p in 0..<M {
            let cand = candidates[p], n = cand.count, base = starts[p], s = sims + base
            let k = PatchGrid.positives(candidates: n, k: config.contrastTopk, windowSize: config.contrastNbhd,
                                        rule: config.borderTopk)
            // Rank by similarity, ties to the lower patch index (a strict total order).
            for i in 0..<n {
                var j = i
                while j > 0, s[i] != s[order[j - 1]] ? s[i] > s[order[j - 1]] : cand[i] < cand[order[j - 1]] {
                    order[j] = order[j - 1]; j -= 1
                }
                order[j] = i
            }
            for i in 0..<n { positive[base + i] = false }
            for r in 0..<k { positive[base + order[r]] = true }
            var mx = s[0]
            for i in 1..<n where s[i] > mx { mx = s[i] }
            var zAll = 0.0, zPos = 0.0
            for i in 0..<n {
                ex[i] = Foundation.exp((s[i] - mx) / tau)
                zAll += ex[i]
                if positive[base + i] { zPos += ex[i] }
            }
            ell[p] = Foundation.log(zAll) - Foundation.log(zPos)
            total += ell[p]
            for i in 0..<n {
                let pi = ex[i] / zAll, rho = positive[base + i] ? ex[i] / zPos : 0
                coefficients[base + i] = scale / Double(M) * (pi - rho) / tau
            }
        }
        return total / Double(M)
    }

    /// Whether the loss reaches Δ through the Δ-weights.
    var deltaWeightsHaveGradient: Bool { !raw && config.deltaWeighting == "delta" && !config.detachDeltaWeights }

    /// ∂loss/∂δ̄(q) / E (the value added to every channel of Δ at σ(q)) from ∂loss/∂w(q).
    func deltaMeanGradient(_ gw: [Double], weights wi: DeltaWeights) -> [Float] {
        var gMean = gw.map { $0 / wi.z }
        var sMin = 0.0, sMax = 0.0
        for q in 0..<M { sMin += gw[q] * (Double(wi.w[q]) - 1); sMax += gw[q] * Double(wi.w[q]) }
        gMean[wi.qMin] += sMin / wi.z
        gMean[wi.qMax] -= sMax / wi.z
        return gMean.map { Float($0 / Double(E)) }
    }

    var M: Int { grid.count }

    /// Δ-weights w(p) and the extremal patches (first index on ties).
    func deltaWeights(_ v: DirectionView) -> DeltaWeights { deltaWeights(delta: v.delta) }

    /// Δ-weights from one image's post-softplus Δ ([t][e], original positions).
    func deltaWeights(delta: UnsafePointer<Float>) -> DeltaWeights {
        var mean = [Double](repeating: 0, count: M)
        for p in 0..<M {
            let row = delta + grid.position(p) * E
            var s = 0.0
            for e in 0..<E { s += Double(row[e]) }
            mean[p] = s / Double(E)
        }
        return deltaWeights(means: mean)
    }

    /// Δ-weights from the per-patch channel means δ̄(p) of Δ.
    func deltaWeights(means mean: [Double]) -> DeltaWeights {
        var qMin = 0, qMax = 0
        for p in 1..<M { if mean[p] < mean[qMin] { qMin = p }; if mean[p] > mean[qMax] { qMax = p } }
        let z = mean[qMax] - mean[qMin] + 1e-6
        if raw || config.deltaWeighting == "uniform" { return ([Float](repeating: 1, count: M), mean, qMin, qMax, z) }
        return (mean.map { Float(($0 - mean[qMin]) / z) }, mean, qMin, qMax, z)
    }

    /// The windows whose states are summed for each patch (the patch itself for raw features).
    func windows() -> [[Int]] {
        (0..<M).map { raw ? [$0] : grid.patchedWindow($0, size: config.patchNbhd) }
    }

    /// Source pointers and weights of one window-pass term list (scratch of `widest` entries).
    struct TermScratch {
        let sources: UnsafeMutablePointer<UnsafePointer<Float>?>
        let weights: UnsafeMutablePointer<Float>
        init(_ n: Int) { sources = .allocate(capacity: n); weights = .allocate(capacity: n) }
        func free() { sources.deallocate(); weights.deallocate() }
    }

    /// dst(p) = Σ count·weight(q)·src(q) over `taps[p]` for every patch p (rows of NE floats).
    private func windowPass(_ taps: SeparableWindow.Taps, source: (Int) -> UnsafePointer<Float>, weight: (Int) -> Float,
                            into dst: UnsafeMutablePointer<Float>, scratch t: TermScratch) {
        let NE = N * E
        for p in 0..<M {
            for (k, tap) in taps[p].enumerated() { t.sources[k] = source(tap.patch); t.weights[k] = Float(tap.count) * weight(tap.patch) }
            Vec.weightedSum(NE, terms: taps[p].count, t.sources, t.weights, dst + p * NE)
        }
    }

    /// Loss of one image and layer; when `sinks` is given, writes `scale`·∂loss/∂states and adds
    /// `scale`·∂loss/∂(C, Δ) (see `DirectionGradSink`).
    func evaluate(_ dirs: [DirectionView], sinks: [DirectionGradSink]?, scale: Double) -> Result {
        let NE = N * E
        let scratch = TermScratch(window.widest)
        defer { scratch.free() }
        // Patched states Hp(p) = Σ_q w(q) h(σ(q)) over the P×P window, as a row pass into R and a
        // column pass into Hp; features y_p(p) = C(σ(p))·Hp(p), per direction.
        var weightsInfo: [DeltaWeights] = []
        var hp = [FloatBuffer](), feats = [Float](repeating: 0, count: M * 2 * E)
        let R = FloatBuffer(uninitialized: M * NE)
        for (d, v) in dirs.enumerated() {
            let wi = deltaWeights(v)
            weightsInfo.append(wi)
            let H = FloatBuffer(uninitialized: M * NE)
            windowPass(window.rows, source: { v.states + grid.position($0) * NE }, weight: { wi.w[$0] }, into: R.pointer, scratch: scratch)
            windowPass(window.columns, source: { R.ptr + $0 * NE }, weight: { _ in 1 }, into: H.pointer, scratch: scratch)
            feats.withUnsafeMutableBufferPointer { fb in
                for p in 0..<M {
                    let cRow = v.c + grid.position(p) * v.ldc
                    let fRow = fb.baseAddress! + p * 2 * E + d * E
                    for n in 0..<N { Vec.axpy(E, cRow[n], H.ptr + p * NE + n * E, fRow) }
                }
            }
            hp.append(H)
        }
        // InfoNCE over K×K candidates.
        let F = 2 * E
        let rowsUnit = feats.withUnsafeBufferPointer { UnitRows($0.baseAddress!, rows: M, cols: F) }
        let norms = rowsUnit.norms, fhat = rowsUnit.unit
        let cands = candidateLists(), starts = Self.slotStarts(cands), T = starts.last!
        var sims = [Double](repeating: 0, count: T), coef = [Double](repeating: 0, count: T)
        var positive = [Bool](repeating: false, count: T), ell = [Double](repeating: 0, count: M)
        fhat.withUnsafeBufferPointer { f in
            for p in 0..<M { for (i, q) in cands[p].enumerated() { sims[starts[p] + i] = Self.dot(F, f.baseAddress! + p * F, f.baseAddress! + q * F) } }
        }
        let loss = infoNCE(candidates: cands, starts: starts, sims: sims, scale: scale, coefficients: &coef, positive: &positive, ell: &ell)
        let positives = (0..<M).map { p in cands[p].indices.filter { positive[starts[p] + $0] }.map { cands[p][$0] } }
        var gFeat = [Double](repeating: 0, count: sinks == nil ? 0 : M * F)
        if sinks != nil {
            // ∂s(p,q)/∂f(p) = (f̂(q) − s(p,q)·f̂(p)) / ‖f(p)‖ (zero below the norm floor): the f̂(q)
            // terms are added pair by pair, the f̂(p) terms gathered into one coefficient per row.
            var own = [Double](repeating: 0, count: M)
            gFeat.withUnsafeMutableBufferPointer { gb in fhat.withUnsafeBufferPointer { fb in
                let g = gb.baseAddress!, f = fb.baseAddress!
                func add(_ a: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) { for j in 0..<F { y[j] += a * x[j] } }
                for p in 0..<M {
                    for (i, q) in cands[p].enumerated() {
                        let G = coef[starts[p] + i], spq = sims[starts[p] + i]
                        if norms[p] >= 1e-8 { let a = G / norms[p]; add(a, f + q * F, g + p * F); own[p] += a * spq }
                        if norms[q] >= 1e-8 { let a = G / norms[q]; add(a, f + p * F, g + q * F); own[q] += a * spq }
                    }
                }
                for p in 0..<M { add(-own[p], f + p * F, g + p * F) }
            }}
        }
        if let sinks {
            for (d, v) in dirs.enumerated() {
                backprop(direction: d, view: v, sink: sinks[d], H: hp[d], weights: weightsInfo[d], gFeat: gFeat, scratch: scratch)
            }
        }
        return Result(loss: loss, ell: ell, features: feats, positives: positives, weights: weightsInfo.map { $0.w })
    }

    /// Σ a·b over n doubles: 8 partials (element i of each whole block of 8 goes to partial i mod 8),
    /// summed in order, then the remaining products.
    static func dot(_ n: Int, _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>) -> Double {
        var acc = SIMD8<Double>(repeating: 0)
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var i = 0
        while i + 8 <= n {
            acc = acc.addingProduct(ra.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self),
                                    rb.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self))
            i += 8
        }
        var s = 0.0
        for j in 0..<8 { s += acc[j] }
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// Features → C, states and Δ-weights → Δ, for one direction.
    private func backprop(direction d: Int, view v: DirectionView, sink: DirectionGradSink, H: FloatBuffer,
                          weights wi: DeltaWeights, gFeat: [Double], scratch t: TermScratch) {
        let NE = N * E, F = 2 * E
        // gHp(p) = gy(p) ⊗ C(σ(p)), and gC(σ(p)) from gy(p) and Hp(p).
        let gHp = FloatBuffer(uninitialized: M * NE)
        let gy = FloatBuffer(uninitialized: E)
        t.sources[0] = gy.ptr
        for p in 0..<M {
            for e in 0..<E { gy.pointer[e] = Float(gFeat[p * F + d * E + e]) }
            let cRow = v.c + grid.position(p) * v.ldc
            let gc = sink.c + grid.position(p) * N
            for n in 0..<N {
                gc[n] += Float(Vec.dot(E, gy.ptr, H.ptr + p * NE + n * E))
                t.weights[0] = cRow[n]
                Vec.weightedSum(E, terms: 1, t.sources, t.weights, gHp.pointer + p * NE + n * E)
            }
        }
        // Adjoint of the column pass, then of the row pass fused with the state sink:
        // Γ(q) = Σ_{p: q ∈ window(p)} gHp(p) (with multiplicity), ∂states = w(q)·Γ(q) (every patch
        // q is in its own window, so each is written once), ∂w(q) = Γ(q)·h(σ(q)).
        let gR = FloatBuffer(uninitialized: M * NE)
        windowPass(window.columnsAdjoint, source: { gHp.ptr + $0 * NE }, weight: { _ in 1 }, into: gR.pointer, scratch: t)
        var gw = [Double](repeating: 0, count: M)
        for q in 0..<M {
            var k = 0
            for tap in window.rowsAdjoint[q] { for _ in 0..<tap.count { t.sources[k] = gR.ptr + tap.patch * NE; k += 1 } }
            let off = grid.position(q) * NE
            gw[q] = Vec.sumScaleDot(NE, terms: k, t.sources, wi.w[q], sink.states + off, v.states + off)
        }
        guard deltaWeightsHaveGradient else { return }
        // Min–max normalisation → δ̄ → Δ.
        let gMean = deltaMeanGradient(gw, weights: wi)
        for q in 0..<M {
            let g = gMean[q]
            let row = sink.delta + grid.position(q) * E
            for e in 0..<E { row[e] += g }
        }
    }
}
