/// CUDA C sources of the engine's GPU ops. Every kernel is sync-free (one thread owns its
/// outputs and sums in the same order as the CPU kernel), so `EmulatedGPUDevice` runs the
/// same source on the host and tests it against the CPU engine.
enum GPUKernels {
    /// Largest d_state the scan kernels hold in registers (every Vim variant has 16).
    static let maxState = 16

    static let ops = GPUModuleSource(name: "ouro_ops", code: "#define OURO_MAXN \(maxState)\n" + CUDASource.ouroOps)
}

/// Typed launches of the engine's GPU ops on any `GPUDevice` (row-major layouts as on the CPU).
public struct GPUOps {
    /// The CUDA C module of these ops (for compile checks).
    public static var module: GPUModuleSource { GPUKernels.ops }
    public let device: GPUDevice
    public init(device: GPUDevice) { self.device = device }

    private func run(_ name: String, threads: Int, _ args: [GPUArg]) throws {
        try device.launch(name, in: GPUKernels.ops, threads: threads, args: args)
    }

    private func opt(_ b: GPUBuffer?) -> GPUArg { .pointer(b?.address ?? 0) }

    public func rmsNormForward(rows: Int, d: Int, x: UInt64, weight: GPUBuffer, eps: Float, out: UInt64, rstd: GPUBuffer?) throws {
        try run("ouro_rmsnorm_fwd", threads: rows, [.pointer(x), .floats(weight), .pointer(out), opt(rstd), .i(rows), .i(d), .float(eps)])
    }

    public func rmsNormBackward(rows: Int, d: Int, x: UInt64, weight: GPUBuffer, rstd: GPUBuffer, gy: UInt64, gx: UInt64,
                                accumulate: Bool) throws {
        try run("ouro_rmsnorm_bwd", threads: rows, [.pointer(x), .floats(weight), .floats(rstd), .pointer(gy), .pointer(gx),
                                                    .i(rows), .i(d), .i(accumulate ? 1 : 0)])
    }

    /// Conv + SiLU: writes pre and xc ([B,L,E]).
    public func convForward(batch: Int, length: Int, channels: Int, taps: Int, x: UInt64, ldx: Int, wT: GPUBuffer,
                            bias: GPUBuffer, reverse: Bool, pre: GPUBuffer, xc: GPUBuffer) throws {
        try run("ouro_conv_fwd", threads: batch * length * channels,
                [.pointer(x), .i(ldx), .floats(wT), .floats(bias), .floats(pre), .floats(xc), .i(batch), .i(length),
                 .i(channels), .i(taps), .i(reverse ? 1 : 0)])
    }

    /// Adds the conv's input gradient into gx (rows `ldgx` apart).
    public func convBackwardInput(batch: Int, length: Int, channels: Int, taps: Int, gpre: GPUBuffer, wT: GPUBuffer,
                                  gx: UInt64, ldgx: Int, reverse: Bool) throws {
        try run("ouro_conv_bwd_x", threads: batch * length * channels,
                [.floats(gpre), .floats(wT), .pointer(gx), .i(ldgx), .i(batch), .i(length), .i(channels), .i(taps), .i(reverse ? 1 : 0)])
    }

    public func biasSoftplus(rows: Int, channels: Int, v: GPUBuffer, bias: GPUBuffer, delta: GPUBuffer) throws {
        try run("ouro_bias_softplus", threads: rows * channels, [.floats(v), .floats(bias), .floats(delta), .i(rows), .i(channels)])
    }

    public func softplusBackward(count: Int, g: GPUBuffer, extra: GPUBuffer?, v: GPUBuffer) throws {
        try run("ouro_softplus_bwd", threads: count, [.floats(g), opt(extra), .floats(v), .i(count)])
    }

    public func siluBackward(count: Int, g: GPUBuffer, pre: GPUBuffer) throws {
        try run("ouro_silu_bwd", threads: count, [.floats(g), .floats(pre), .i(count)])
    }

    public func gateForward(rows: Int, channels: Int, y: GPUBuffer, z: UInt64, ldz: Int, m: GPUBuffer, first: Bool) throws {
        try run("ouro_gate_fwd", threads: rows * channels, [.floats(y), .pointer(z), .i(ldz), .floats(m), .i(rows), .i(channels), .i(first ? 1 : 0)])
    }

    public func gateBackward(rows: Int, channels: Int, gm: GPUBuffer, y: GPUBuffer, z: UInt64, ldz: Int, gy: GPUBuffer, gz: UInt64) throws {
        try run("ouro_gate_bwd", threads: rows * channels,
                [.floats(gm), .floats(y), .pointer(z), .i(ldz), .floats(gy), .pointer(gz), .i(rows), .i(channels)])
    }

    /// out[j] = Σ_r x[r·ld + j] for j < cols (rows summed in order).
    public func columnSums(rows: Int, cols: Int, x: UInt64, ld: Int, out: GPUBuffer) throws {
        try run("ouro_col_sums", threads: cols, [.pointer(x), .floats(out), .i(rows), .i(cols), .i(ld)])
    }

    /// RMSNorm weight gradient (d values).
    public func rmsNormWeightGradient(rows: Int, d: Int, x: UInt64, rstd: GPUBuffer, gy: UInt64, gw: GPUBuffer) throws {
        try run("ouro_rmsnorm_bwd_w", threads: d, [.pointer(x), .floats(rstd), .pointer(gy), .floats(gw), .i(rows), .i(d)])
    }

    /// Conv weight gradient as (K, E) and bias gradient (E).
    public func convBackwardWeights(batch: Int, length: Int, channels: Int, taps: Int, gpre: GPUBuffer, x: UInt64, ldx: Int,
                                    reverse: Bool, gwT: GPUBuffer, gb: GPUBuffer) throws {
        try run("ouro_conv_bwd_w", threads: (taps + 1) * channels,
                [.floats(gpre), .pointer(x), .i(ldx), .floats(gwT), .floats(gb), .i(batch), .i(length), .i(channels), .i(taps),
                 .i(reverse ? 1 : 0)])
    }

    public func add(count: Int, dst: UInt64, src: UInt64) throws {
        try run("ouro_add", threads: count, [.pointer(dst), .pointer(src), .i(count)])
    }

    public func copy(count: Int, dst: UInt64, src: UInt64) throws {
        try run("ouro_copy", threads: count, [.pointer(dst), .pointer(src), .i(count)])
    }

    /// Scan forward; A is (E, N); B and C are columns of the token matrix `bc` (rows `ld` apart).
    public func scanForward(shape s: SelectiveScan.Shape, u: GPUBuffer, delta: GPUBuffer, a: GPUBuffer, bc: GPUBuffer,
                            ld: Int, bOffset: Int, cOffset: Int, d: GPUBuffer, reverse: Bool, y: GPUBuffer,
                            states: GPUBuffer?) throws {
        guard s.state <= GPUKernels.maxState else { throw CUDAError("GPU scan supports d_state ≤ \(GPUKernels.maxState), got \(s.state)") }
        try run("ouro_scan_fwd", threads: s.batch * s.channels,
                [.floats(u), .floats(delta), .floats(a), .floats(bc), .i(ld), .i(bOffset), .i(cOffset), .floats(d),
                 .floats(y), opt(states), .i(s.batch), .i(s.length), .i(s.channels), .i(s.state), .i(reverse ? 1 : 0)])
    }

    /// Scan backward of the inputs: gu, gΔ ([B,L,E]) and gB, gC written into the columns
    /// `gOffsetB`, `gOffsetC` of `gbc` (rows `ld` apart), plus `extraC` ([B·L, N]) on gC.
    /// `partial` is scratch of 4·B·L·N·E floats. With `gA` ((E, N)) and `gD` ((E)), also the
    /// parameter gradients of A and D, summed over the images in order.
    public func scanBackward(shape s: SelectiveScan.Shape, u: GPUBuffer, delta: GPUBuffer, a: GPUBuffer, bc: GPUBuffer,
                             ld: Int, bOffset: Int, cOffset: Int, d: GPUBuffer, reverse: Bool, states: GPUBuffer,
                             gy: GPUBuffer, ghExt: GPUBuffer?, gu: GPUBuffer, gDelta: GPUBuffer, gbc: GPUBuffer,
                             extraC: GPUBuffer?, partial: GPUBuffer, gA: GPUBuffer? = nil, gD: GPUBuffer? = nil) throws {
        let count = s.batch * s.length * s.state, big = count * s.channels, rows = s.batch * s.length
        let perImage: GPUBuffer? = gA == nil && gD == nil ? nil : try device.floats(s.batch * s.channels * (s.state + 1))
        precondition(partial.floatCount >= 4 * big, "scanBackward: partial holds \(partial.floatCount) floats, needs \(4 * big)")
        try run("ouro_scan_bwd", threads: s.batch * s.state * s.channels,
                [.floats(u), .floats(delta), .floats(a), .floats(bc), .i(ld), .i(bOffset), .i(cOffset),
                 .floats(states), .floats(gy), opt(ghExt), .floats(partial), .floats(partial, big), .floats(partial, 2 * big),
                 .floats(partial, 3 * big), opt(gA == nil ? nil : perImage), .i(s.batch), .i(s.length), .i(s.channels), .i(s.state),
                 .i(reverse ? 1 : 0)])
        if let gA, let perImage {
            try run("ouro_sum_batches", threads: s.channels * s.state, [.floats(perImage), .floats(gA), .i(s.batch), .i(s.channels * s.state)])
        }
        if let gD, let perImage {
            let pD = s.batch * s.channels * s.state
            try run("ouro_scan_grad_d", threads: s.batch * s.channels,
                    [.floats(u), .floats(gy), .floats(perImage, pD), .i(s.batch), .i(s.length), .i(s.channels), .i(reverse ? 1 : 0)])
            try run("ouro_sum_batches", threads: s.channels, [.floats(perImage, pD), .floats(gD), .i(s.batch), .i(s.channels)])
        }
        try run("ouro_scan_bwd_reduce", threads: rows * s.channels,
                [.floats(u), .floats(delta), .floats(d), .floats(gy), .floats(partial, 2 * big), .floats(partial, 3 * big),
                 .floats(gu), .floats(gDelta), .i(rows), .i(s.channels), .i(s.state)])
        try run("ouro_sum_channels", threads: count, [.floats(partial), .pointer(0), .floats(gbc), .i(ld), .i(bOffset), .i(count), .i(s.state), .i(s.channels)])
        try run("ouro_sum_channels", threads: count, [.floats(partial, big), opt(extraC), .floats(gbc), .i(ld), .i(cOffset), .i(count), .i(s.state), .i(s.channels)])
    }
}

/// The GPU scan as a one-shot call on host arrays (the scan benchmark uses it).
public enum GPUScan {
    public static func forward(_ dev: GPUDevice, shape s: SelectiveScan.Shape, u: [Float], delta: [Float], a: [Float],
                               bc: [Float], ld: Int, bOffset: Int, cOffset: Int, d: [Float], reverse: Bool) throws -> [Float] {
        let bu = try dev.upload(u), bd = try dev.upload(delta), ba = try dev.upload(a), bbc = try dev.upload(bc), bD = try dev.upload(d)
        let by = try dev.floats(s.batch * s.length * s.channels)
        try GPUOps(device: dev).scanForward(shape: s, u: bu, delta: bd, a: ba, bc: bbc, ld: ld, bOffset: bOffset, cOffset: cOffset,
                                            d: bD, reverse: reverse, y: by, states: nil)
        return try dev.download(by)
    }
}
