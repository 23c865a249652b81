import OuroEngine

/// Image priors and random view transforms for the generator (levers beyond the spec; see
/// docs/method-notes.md). All per image, so the objective stays a sum of per-image terms.
public enum ImagePriors {
    /// Mean over the C·H·W pixels of the squared differences to the right and lower neighbours
    /// (each pair counted once, borders have fewer pairs). Adds weight·∂/∂x to `grad`.
    public static func totalVariation(_ x: UnsafePointer<Float>, channels C: Int, side S: Int, weight: Float,
                                      grad: UnsafeMutablePointer<Float>) -> Double {
        let n = Double(C * S * S)
        var loss = 0.0
        let k = Float(2.0 / n) * weight
        for c in 0..<C {
            let p = c * S * S
            for i in 0..<S {
                for j in 0..<S {
                    let a = p + i * S + j
                    if j + 1 < S {
                        let d = x[a + 1] - x[a]
                        loss += Double(d) * Double(d)
                        grad[a + 1] += k * d; grad[a] -= k * d
                    }
                    if i + 1 < S {
                        let d = x[a + S] - x[a]
                        loss += Double(d) * Double(d)
                        grad[a + S] += k * d; grad[a] -= k * d
                    }
                }
            }
        }
        return Double(weight) * loss / n
    }

    /// Mean squared pixel. Adds weight·∂/∂x to `grad`.
    public static func l2(_ x: UnsafePointer<Float>, count n: Int, weight: Float, grad: UnsafeMutablePointer<Float>) -> Double {
        var loss = 0.0
        let k = 2 * weight / Float(n)
        for i in 0..<n {
            loss += Double(x[i]) * Double(x[i])
            grad[i] += k * x[i]
        }
        return Double(weight) * loss / Double(n)
    }

    /// A random view of one image: circular shift by (dy, dx), then an optional horizontal flip.
    public struct View: Equatable, Sendable {
        public var dy: Int, dx: Int, flip: Bool

        /// The view of sample `sample` at iteration `iteration`: its own random stream, so the
        /// result does not depend on the block, worker or thread that computes it.
        public static func draw(seed: UInt64, sample: Int, iteration: Int, jitter: Int, flip: Bool) -> View {
            var rng = Xoshiro256StarStar(seed: seed ^ 0x6A09_E667_F3BC_C908, stream: UInt64(sample) << 32 | UInt64(iteration))
            let dy = jitter > 0 ? rng.nextInt(below: 2 * jitter + 1) - jitter : 0
            let dx = jitter > 0 ? rng.nextInt(below: 2 * jitter + 1) - jitter : 0
            let f = flip ? rng.nextUniform() < 0.5 : false
            return View(dy: dy, dx: dx, flip: f)
        }

        /// The source pixel (i, j) of output pixel (y, x) in an S×S plane.
        @inline(__always) func source(_ y: Int, _ x: Int, side S: Int) -> Int {
            let xs = flip ? S - 1 - x : x
            let i = ((y - dy) % S + S) % S, j = ((xs - dx) % S + S) % S
            return i * S + j
        }

        /// out = view(x) for C planes of S×S.
        public func apply(_ x: UnsafePointer<Float>, channels C: Int, side S: Int, out: UnsafeMutablePointer<Float>) {
            for c in 0..<C {
                let p = c * S * S
                for y in 0..<S { for xx in 0..<S { out[p + y * S + xx] = x[p + source(y, xx, side: S)] } }
            }
        }

        /// g_x = viewᵀ(g): the gradient with respect to the original image of a loss whose
        /// gradient with respect to the view is `g` (the view is a permutation).
        public func pullBack(_ g: UnsafePointer<Float>, channels C: Int, side S: Int, out: UnsafeMutablePointer<Float>) {
            for c in 0..<C {
                let p = c * S * S
                for y in 0..<S { for xx in 0..<S { out[p + source(y, xx, side: S)] = g[p + y * S + xx] } }
            }
        }
    }
}
