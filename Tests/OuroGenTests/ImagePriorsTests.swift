import Foundation
import OuroEngine
import OuroGen
import OuroModel
import OuroTestSupport
import Testing

/// The generator levers beyond the spec: priors (finite differences), views (exact adjoint),
/// defaults that leave the spec's configuration and its encoding untouched, determinism.
@Suite struct ImagePriorsTests {
    static func image(_ n: Int, seed: UInt64) -> [Float] {
        var rng = Xoshiro256StarStar(seed: seed)
        return rng.normals(n)
    }

    /// Central differences in Double on the Float loss: |FD − ∂| small relative to the gradient.
    @Test func priorGradientsMatchFiniteDifferences() {
        let C = 2, S = 5, n = C * S * S
        let x = Self.image(n, seed: 1)
        for prior in ["tv", "l2"] {
            func loss(_ v: [Float]) -> Double {
                var g = [Float](repeating: 0, count: n)
                return v.withUnsafeBufferPointer { vp in g.withUnsafeMutableBufferPointer { gp in
                    prior == "tv" ? ImagePriors.totalVariation(vp.baseAddress!, channels: C, side: S, weight: 0.7, grad: gp.baseAddress!)
                                  : ImagePriors.l2(vp.baseAddress!, count: n, weight: 0.7, grad: gp.baseAddress!)
                }}
            }
            var g = [Float](repeating: 0, count: n)
            _ = x.withUnsafeBufferPointer { xp in g.withUnsafeMutableBufferPointer { gp in
                prior == "tv" ? ImagePriors.totalVariation(xp.baseAddress!, channels: C, side: S, weight: 0.7, grad: gp.baseAddress!)
                              : ImagePriors.l2(xp.baseAddress!, count: n, weight: 0.7, grad: gp.baseAddress!)
            }}
            for i in stride(from: 0, to: n, by: 7) {
                var p = x, m = x
                p[i] += 1e-2; m[i] -= 1e-2
                let fd = (loss(p) - loss(m)) / 2e-2
                #expect(abs(fd - Double(g[i])) < 1e-4 + 1e-3 * abs(fd), "\(prior) pixel \(i): FD \(fd) vs \(g[i])")
            }
        }
    }

    /// A view is a permutation, and pullBack is its transpose: <a, V x> = <Vᵀ a, x>.
    @Test func viewPullBackIsTheAdjoint() {
        let C = 3, S = 7, n = C * S * S
        let x = Self.image(n, seed: 2), a = Self.image(n, seed: 3)
        for it in 0..<20 {
            let v = ImagePriors.View.draw(seed: 9, sample: 4, iteration: it, jitter: 3, flip: true)
            var vx = [Float](repeating: 0, count: n), ta = vx
            x.withUnsafeBufferPointer { xp in vx.withUnsafeMutableBufferPointer { v.apply(xp.baseAddress!, channels: C, side: S, out: $0.baseAddress!) } }
            a.withUnsafeBufferPointer { ap in ta.withUnsafeMutableBufferPointer { v.pullBack(ap.baseAddress!, channels: C, side: S, out: $0.baseAddress!) } }
            #expect(vx.sorted() == x.sorted())
            let lhs = zip(a, vx).map { Double($0) * Double($1) }.reduce(0, +)
            let rhs = zip(ta, x).map { Double($0) * Double($1) }.reduce(0, +)
            #expect(abs(lhs - rhs) < 1e-9 * max(1, abs(lhs)))
        }
        let views = (0..<200).map { ImagePriors.View.draw(seed: 9, sample: 4, iteration: $0, jitter: 2, flip: true) }
        #expect(Set(views.map(\.dx)) == [-2, -1, 0, 1, 2] && Set(views.map(\.flip)) == [false, true])
        #expect(ImagePriors.View.draw(seed: 9, sample: 4, iteration: 5, jitter: 2, flip: true)
                == ImagePriors.View.draw(seed: 9, sample: 4, iteration: 5, jitter: 2, flip: true))
    }

    /// The spec's configuration encodes exactly as before (no new keys), and old JSON decodes.
    @Test func defaultsKeepTheSpecConfiguration() throws {
        let json = String(decoding: try JSONEncoder().encode(GenConfig()), as: UTF8.self)
        for key in ["tvWeight", "l2Weight", "jitter", "flip"] { #expect(!json.contains(key), "\(key) in \(json)") }
        let back = try JSONDecoder().decode(GenConfig.self, from: Data(json.utf8))
        #expect(back == GenConfig())
        var c = GenConfig(); c.jitter = -1
        #expect(throws: GenError.self) { try c.validate() }
    }

    /// `.spec` is `GenConfig()`; `.recommended` departs from it only where docs/method-notes.md
    /// says so.
    @Test func recommendedDefaultsDepartOnlyWhereDocumented() {
        #expect(GenConfig(defaults: .spec) == GenConfig())
        var documented = GenConfig()
        documented.clampValidRange = true
        documented.lr = 0.05
        documented.iterations = 200
        #expect(GenConfig(defaults: .recommended) == documented)
    }

    /// With every lever on, a block is reproducible and independent of the thread count.
    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"))
    func leversAreDeterministic() throws {
        let p = try #require(Fixtures.path("vim-micro.safetensors"))
        let m = try VisionMamba.load(path: p)
        var c = GenConfig()
        c.samples = 4; c.block = 4; c.iterations = 3; c.tvWeight = 0.1; c.l2Weight = 0.01; c.jitter = 2; c.flip = true
        c.clampValidRange = true
        let a = try Generator(model: m, config: c, threads: 1).generateBlock(0)
        let b = try Generator(model: m, config: c, threads: 2).generateBlock(0)
        #expect(a.images.data == b.images.data && a.lossCurve == b.lossCurve)
        var plain = c
        plain.tvWeight = nil; plain.l2Weight = nil; plain.jitter = nil; plain.flip = nil
        let d = try Generator(model: m, config: plain, threads: 1).generateBlock(0)
        #expect(d.images.data != a.images.data)
    }
}
