import OuroSupport
import CFloatKernels

/// Depthwise causal conv1d (`vim-architecture.md` §2.4 and §7), in original token order.
///
/// Forward direction: pre[t] = b + Σ_k w[k]·x[t + k − (K−1)]. With `reverse` (the backward
/// scan direction in original coordinates) the conv is anti-causal with reversed taps:
/// pre[t] = b + Σ_k w[k]·x[t + (K−1) − k]. Out-of-range inputs are zero.
public enum CausalConv1d {
    @inline(__always)
    static func offset(_ k: Int, _ K: Int, _ reverse: Bool) -> Int { reverse ? (K - 1 - k) : (k - (K - 1)) }

    /// `x` rows have stride `ldx`; `wT` is the weight transposed to (K, E); output [B,L,E].
    /// With `silu`, also writes SiLU(out) there (the mixer's xc), in the same pass.
    ///
    /// Works row by row over all channels, so every load is a contiguous run of the row (the
    /// input rows are 2E apart; walking one channel block down the rows missed the cache).
    public static func forward(batch: Int, length L: Int, channels E: Int, taps K: Int,
                               x: UnsafePointer<Float>, ldx: Int, wT: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>, reverse: Bool,
                               out: UnsafeMutablePointer<Float>, silu: UnsafeMutablePointer<Float>? = nil,
                               runner: ParallelRunner, path: FloatKernelPath = .automatic) {
        let rowsPerJob = 16, jobsPerImage = (L + rowsPerJob - 1) / rowsPerJob
        if let p = path.checkedCPath {
            var args = ouro_conv_args(L: Int32(L), E: Int32(E), K: Int32(K), x: x, ldx: ldx, wT: wT, bias: bias,
                                      reverse: reverse ? 1 : 0, out: out, silu: silu)
            withUnsafePointer(to: &args) { args in
                runner.forEach(batch * jobsPerImage) { job in
                    let b = job / jobsPerImage, t0 = (job % jobsPerImage) * rowsPerJob
                    ouro_conv_forward_rows(p, args, Int32(b), Int32(t0), Int32(min(L, t0 + rowsPerJob)))
                }
            }
            return
        }
        let full = E / 8 * 8
        runner.forEach(batch * jobsPerImage) { job in
            let b = job / jobsPerImage, t0 = (job % jobsPerImage) * rowsPerJob
            for t in t0..<min(L, t0 + rowsPerJob) {
                // Taps whose input row lies inside the sequence, in ascending k (the summation order).
                let kLo = reverse ? max(0, t + K - L) : max(0, K - 1 - t)
                let kHi = reverse ? K : min(K, L + K - 1 - t)
                let o = out + (b * L + t) * E
                var e = 0
                while e < full {
                    var acc = bias.load8(e)
                    for k in kLo..<kHi {
                        let s = t + offset(k, K, reverse)
                        acc = acc + wT.load8(k * E + e) * x.load8((b * L + s) * ldx + e)
                    }
                    o.store8(e, acc)
                    if let silu { silu.store8((b * L + t) * E + e, VectorMath.silu(acc)) }
                    e += 8
                }
                if e < E {
                    let w = E - e
                    var acc = load(bias + e, w)
                    for k in kLo..<kHi {
                        let s = t + offset(k, K, reverse)
                        acc = acc + load(wT + k * E + e, w) * load(x + (b * L + s) * ldx + e, w)
                    }
                    store(o + e, acc, w)
                    if let silu { store(silu + (b * L + t) * E + e, VectorMath.silu(acc), w) }
                }
            }
        }
    }

    /// Gradients: writes gx (rows of stride `ldgx`, overwritten), and if given gwT (K,E) and gb (E),
    /// summed over the batch in image order.
    public static func backward(batch: Int, length L: Int, channels E: Int, taps K: Int,
                                x: UnsafePointer<Float>, ldx: Int, wT: UnsafePointer<Float>,
                                reverse: Bool, gpre: UnsafePointer<Float>,
                                gx: UnsafeMutablePointer<Float>, ldgx: Int,
                                gwT: UnsafeMutablePointer<Float>?, gb: UnsafeMutablePointer<Float>?,
                                runner: ParallelRunner) {
        let chunks = (E + 7) / 8
        let wantParams = gwT != nil || gb != nil
        var pw = [Float](repeating: 0, count: wantParams ? batch * K * E : 0)
        var pb = [Float](repeating: 0, count: wantParams ? batch * E : 0)
        pw.withUnsafeMutableBufferPointer { pw in
        pb.withUnsafeMutableBufferPointer { pb in
            // Gate on the request: an empty array can still expose the shared empty storage.
            let pwb = wantParams ? pw.baseAddress : nil, pbb = wantParams ? pb.baseAddress : nil
            runner.forEach(batch * chunks) { job in
                let b = job / chunks, e0 = (job % chunks) * 8, w = min(8, E - e0)
                for s in 0..<L {
                    var acc = V8(repeating: 0)
                    for k in 0..<K {
                        let t = s - offset(k, K, reverse)
                        if t < 0 || t >= L { continue }
                        acc = acc + load(wT + k * E + e0, w) * load(gpre + (b * L + t) * E + e0, w)
                    }
                    store(gx + (b * L + s) * ldgx + e0, acc, w)
                }
                if let pwb, let pbb {
                    var gbAcc = V8(repeating: 0)
                    for t in 0..<L { gbAcc = gbAcc + load(gpre + (b * L + t) * E + e0, w) }
                    store(pbb + b * E + e0, gbAcc, w)
                    for k in 0..<K {
                        var acc = V8(repeating: 0)
                        for t in 0..<L {
                            let s = t + offset(k, K, reverse)
                            if s < 0 || s >= L { continue }
                            acc = acc + load(gpre + (b * L + t) * E + e0, w) * load(x + (b * L + s) * ldx + e0, w)
                        }
                        store(pwb + (b * K + k) * E + e0, acc, w)
                    }
                }
            }
            if let pwb, let pbb {
                for i in 0..<(K * E) {
                    var acc: Float = 0
                    for b in 0..<batch { acc += pwb[b * K * E + i] }
                    if let gwT { gwT[i] = acc }
                }
                for e in 0..<E {
                    var acc: Float = 0
                    for b in 0..<batch { acc += pbb[b * E + e] }
                    if let gb { gb[e] = acc }
                }
            }
        }}
    }
}
