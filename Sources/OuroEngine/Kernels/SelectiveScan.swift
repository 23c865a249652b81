import OuroSupport
import CFloatKernels

/// The selective scan of Mamba (`vim-architecture.md` §2.5 and §7), forward and backward.
///
/// All tensors are in **original token order**; `reverse` runs the recurrence from the last
/// token to the first, which is exactly the backward direction of bimamba v2 with its input
/// and output flipped. Channels are vectorised 8 at a time; the state stays in a small
/// stack buffer.
public enum SelectiveScan {
    /// Shapes of one scan call.
    public struct Shape: Sendable {
        public var batch: Int, length: Int, channels: Int, state: Int
        public init(batch: Int, length: Int, channels: Int, state: Int) {
            self.batch = batch; self.length = length; self.channels = channels; self.state = state
        }
        @inline(__always) var chunks: Int { (channels + 7) / 8 }
    }

    /// Token-shared B and C: `B[b,t,n] = base[(b·L + t)·ld + bOffset + n]`, C likewise.
    public struct TokenMatrices {
        public var base: UnsafePointer<Float>
        public var ld: Int, bOffset: Int, cOffset: Int
        public init(base: UnsafePointer<Float>, ld: Int, bOffset: Int, cOffset: Int) {
            self.base = base; self.ld = ld; self.bOffset = bOffset; self.cOffset = cOffset
        }
    }

    /// Channels per job of the C kernels (their stack block holds at most this many).
    static let blockChannels = Int(OURO_SCAN_BLOCK)
    /// Largest state size the C kernels hold on their stack; larger ones run the reference.
    static let maxKernelState = Int(OURO_SCAN_MAX_STATE)

    /// y = scan(u, Δ, A, B, C, D). `a2T` is A·log2(e) transposed to (N, E).
    /// When `states` is given, h after each step is stored as [b][t][n][e] (original positions).
    public static func forward(shape s: Shape, u: UnsafePointer<Float>, delta: UnsafePointer<Float>,
                               a2T: UnsafePointer<Float>, bc: TokenMatrices, d: UnsafePointer<Float>,
                               reverse: Bool, y: UnsafeMutablePointer<Float>,
                               states: UnsafeMutablePointer<Float>?, runner: ParallelRunner,
                               kernel: FloatKernelPath = .automatic) {
        let L = s.length, E = s.channels, N = s.state
        if let path = kernel.checkedCPath, N <= maxKernelState {
            var args = ouro_scan_args(L: Int32(L), E: Int32(E), N: Int32(N), u: u, delta: delta, a2T: a2T,
                                      bc: bc.base, ld: bc.ld, boff: bc.bOffset, coff: bc.cOffset, d: d,
                                      reverse: reverse ? 1 : 0, y: y, states: states)
            let blocks = (E + blockChannels - 1) / blockChannels
            withUnsafePointer(to: &args) { args in
                runner.forEach(s.batch * blocks) { job in
                    let b = job / blocks, e0 = (job % blocks) * blockChannels
                    ouro_scan_forward_block(path, args, Int32(b), Int32(e0), Int32(min(E, e0 + blockChannels)))
                }
            }
            return
        }
        let chunks = s.chunks
        runner.forEach(s.batch * chunks) { job in
            let b = job / chunks, e0 = (job % chunks) * 8, w = min(8, E - e0)
            if let states {
                chunkForward(b: b, e0: e0, w: w, L: L, E: E, N: N, u: u, delta: delta, a2T: a2T, bc: bc, d: d,
                             reverse: reverse, y: y, states: states, keep: true)
            } else {
                chunkForward(b: b, e0: e0, w: w, L: L, E: E, N: N, u: u, delta: delta, a2T: a2T, bc: bc, d: d,
                             reverse: reverse, y: y, states: y, keep: false)
            }
        }
    }

    /// One image and 8 channels. `keep` is a compile-time-like switch (the call sites pass a
    /// literal) so the no-states loop carries no branch or optional.
    @inline(__always)
    static func chunkForward(b: Int, e0: Int, w: Int, L: Int, E: Int, N: Int, u: UnsafePointer<Float>,
                             delta: UnsafePointer<Float>, a2T: UnsafePointer<Float>, bc: TokenMatrices,
                             d: UnsafePointer<Float>, reverse: Bool, y: UnsafeMutablePointer<Float>,
                             states: UnsafeMutablePointer<Float>, keep: Bool) {
        // Heap scratch with unaligned SIMD access: stack temporaries are not guaranteed the
        // 32-byte alignment that SIMD8 loads would assume.
        let scratch = SIMDScratch(vectors: 2 * N)
        defer { scratch.free() }
        do {
            let h = scratch, a2 = scratch.offset(N)
            for n in 0..<N { h[n] = V8(repeating: 0); a2[n] = load(a2T + n * E + e0, w) }
            let dv = load(d + e0, w)
            let bBase = bc.base + bc.bOffset, cBase = bc.base + bc.cOffset
            for i in 0..<L {
                let t = reverse ? L - 1 - i : i
                let row = (b * L + t) * E + e0
                let dt = load(delta + row, w), uu = load(u + row, w)
                let du = dt * uu
                // Two accumulators break the serial add chain over n.
                var acc0 = dv * uu, acc1 = V8(repeating: 0)
                let bRow = bBase + (b * L + t) * bc.ld, cRow = cBase + (b * L + t) * bc.ld
                let st = states + (b * L + t) * N * E + e0
                var n = 0
                while n + 1 < N {
                    let a0 = VectorMath.exp2(dt * a2[n]), a1 = VectorMath.exp2(dt * a2[n + 1])
                    let h0 = (du * bRow[n]).addingProduct(a0, h[n])
                    let h1 = (du * bRow[n + 1]).addingProduct(a1, h[n + 1])
                    h[n] = h0; h[n + 1] = h1
                    acc0 = acc0.addingProduct(h0, V8(repeating: cRow[n]))
                    acc1 = acc1.addingProduct(h1, V8(repeating: cRow[n + 1]))
                    if keep { store(st + n * E, h0, w); store(st + (n + 1) * E, h1, w) }
                    n += 2
                }
                if n < N {
                    let a0 = VectorMath.exp2(dt * a2[n])
                    let h0 = (du * bRow[n]).addingProduct(a0, h[n])
                    h[n] = h0
                    acc0 = acc0.addingProduct(h0, V8(repeating: cRow[n]))
                    if keep { store(st + n * E, h0, w) }
                }
                store(y + row, acc0 + acc1, w)
            }
        }
    }

    /// Gradients of the scan. Overwrites `gu`, `gDelta` ([B,L,E]), `gB`, `gC` ([B,L,N]),
    /// `gA` ([E,N], summed over the batch) and `gD` ([E]).
    ///
    /// `ghExt` is an optional external gradient on every state h_t ([b][t][n][e] like
    /// `states`); the generator puts its contrastive loss there. Reductions over channels and
    /// images run in a fixed order, so results do not depend on the thread count.
    public static func backward(shape s: Shape, u: UnsafePointer<Float>, delta: UnsafePointer<Float>,
                                a2T: UnsafePointer<Float>, aT: UnsafePointer<Float>,
                                bc: TokenMatrices, d: UnsafePointer<Float>, reverse: Bool,
                                states: UnsafePointer<Float>, gy: UnsafePointer<Float>,
                                ghExt: UnsafePointer<Float>?,
                                gu: UnsafeMutablePointer<Float>, gDelta: UnsafeMutablePointer<Float>,
                                gB: UnsafeMutablePointer<Float>, gC: UnsafeMutablePointer<Float>,
                                gA: UnsafeMutablePointer<Float>?, gD: UnsafeMutablePointer<Float>?,
                                runner: ParallelRunner, kernel: FloatKernelPath = .automatic) {
        let Bt = s.batch, L = s.length, E = s.channels, N = s.state, chunks = s.chunks
        let groups = min(chunks, 4)
        // Partials: gB/gC per (b, group); gA/gD per b.
        // Lane-wise partials (8 floats per entry): horizontal sums happen once, at the end.
        var pB = [Float](repeating: 0, count: Bt * groups * L * N * 8)
        var pC = [Float](repeating: 0, count: Bt * groups * L * N * 8)
        var pA = [Float](repeating: 0, count: gA == nil ? 0 : Bt * E * N)
        var pD = [Float](repeating: 0, count: gD == nil ? 0 : Bt * E)
        pB.withUnsafeMutableBufferPointer { pB in
        pC.withUnsafeMutableBufferPointer { pC in
        pA.withUnsafeMutableBufferPointer { pA in
        pD.withUnsafeMutableBufferPointer { pD in
            let pBb = pB.baseAddress!, pCb = pC.baseAddress!
            // An empty array's buffer may still have a base address (the shared empty
            // storage): gate on the caller's request, never on the pointer.
            let pAb = gA == nil ? nil : pA.baseAddress, pDb = gD == nil ? nil : pD.baseAddress
            if let path = kernel.checkedCPath, N <= maxKernelState {
                var args = ouro_scan_backward_args(
                    L: Int32(L), E: Int32(E), N: Int32(N), u: u, delta: delta, a2T: a2T, aT: aT, bc: bc.base,
                    ld: bc.ld, boff: bc.bOffset, coff: bc.cOffset, d: d, reverse: reverse ? 1 : 0, states: states,
                    gy: gy, ghExt: ghExt, gu: gu, gDelta: gDelta, pA: pAb, pD: pDb)
                withUnsafePointer(to: &args) { args in
                    runner.forEach(Bt * groups) { job in
                        let b = job / groups, g = job % groups
                        let c0 = chunks * g / groups, c1 = chunks * (g + 1) / groups
                        ouro_scan_backward_chunks(path, args, Int32(b), Int32(c0), Int32(c1),
                                                  pBb + (b * groups + g) * L * N * 8, pCb + (b * groups + g) * L * N * 8)
                    }
                }
            } else {
                runner.forEach(Bt * groups) { job in
                    let b = job / groups, g = job % groups
                    let c0 = chunks * g / groups, c1 = chunks * (g + 1) / groups
                    let gBp = pBb + (b * groups + g) * L * N * 8, gCp = pCb + (b * groups + g) * L * N * 8
                    let tmp = SIMDScratch(vectors: 3 * N)
                    defer { tmp.free() }
                    do {
                        let lam = tmp, aNext = tmp.offset(N), gAacc = tmp.offset(2 * N)
                        for c in c0..<c1 {
                            let e0 = c * 8, w = min(8, E - e0)
                            for n in 0..<N {
                                lam[n] = V8(repeating: 0); aNext[n] = V8(repeating: 0); gAacc[n] = V8(repeating: 0)
                            }
                            let dv = load(d + e0, w)
                            var gDacc = V8(repeating: 0)
                            for i in stride(from: L - 1, through: 0, by: -1) {
                                let t = reverse ? L - 1 - i : i
                                let tp = reverse ? t + 1 : t - 1   // previous step in scan order
                                let hasPrev = i > 0
                                let row = (b * L + t) * E + e0
                                let dt = load(delta + row, w), uu = load(u + row, w), g = load(gy + row, w)
                                let bcRow = bc.base + (b * L + t) * bc.ld
                                var sumLB = V8(repeating: 0), gdt = V8(repeating: 0)
                                let du = dt * uu
                                for n in 0..<N {
                                    let sIdx = ((b * L + t) * N + n) * E + e0
                                    var l = g * bcRow[bc.cOffset + n] + aNext[n] * lam[n]
                                    if let ext = ghExt { l = l + load(ext + sIdx, w) }
                                    lam[n] = l
                                    let h = load(states + sIdx, w)
                                    let hp = hasPrev ? load(states + ((b * L + tp) * N + n) * E + e0, w) : V8(repeating: 0)
                                    let a = VectorMath.exp2(dt * load(a2T + n * E + e0, w))
                                    aNext[n] = a
                                    let ci = (t * N + n) * 8
                                    gCp.store8(ci, gCp.load8(ci).addingProduct(g, h))
                                    let bn = bcRow[bc.bOffset + n]
                                    sumLB = sumLB + l * bn
                                    gBp.store8(ci, gBp.load8(ci).addingProduct(l, du))
                                    let lah = l * a * hp
                                    gdt = gdt + lah * load(aT + n * E + e0, w)
                                    gAacc[n] = gAacc[n] + lah * dt
                                }
                                store(gu + row, dv * g + dt * sumLB, w)
                                store(gDelta + row, uu * sumLB + gdt, w)
                                gDacc = gDacc + g * uu
                            }
                            if let pAb {
                                for n in 0..<N { for j in 0..<w { pAb[(b * E + e0 + j) * N + n] = gAacc[n][j] } }
                            }
                            if let pDb { store(pDb + b * E + e0, gDacc, w) }
                        }
                    }
                }
            }
            // Ordered reductions.
            for b in 0..<Bt {
                for k in 0..<(L * N) {
                    var sb = SIMD8<Float>(repeating: 0), sc = SIMD8<Float>(repeating: 0)
                    for g in 0..<groups {
                        sb += pBb.load8(((b * groups + g) * L * N + k) * 8)
                        sc += pCb.load8(((b * groups + g) * L * N + k) * 8)
                    }
                    gB[b * L * N + k] = sb.sum(); gC[b * L * N + k] = sc.sum()
                }
            }
            if let gA, let pAb {
                for k in 0..<(E * N) { var acc: Float = 0; for b in 0..<Bt { acc += pAb[b * E * N + k] }; gA[k] = acc }
            }
            if let gD, let pDb {
                for e in 0..<E { var acc: Float = 0; for b in 0..<Bt { acc += pDb[b * E + e] }; gD[e] = acc }
            }
        }}}}
    }
}
