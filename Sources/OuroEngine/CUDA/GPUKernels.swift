/// CUDA C kernels of the GPU backend, compiled by NVRTC at first use.
enum GPUKernels {
    /// Selective-scan forward (`vim-architecture.md` §2.5): one thread per (image, channel),
    /// the N-dimensional state in registers, tokens in original order (`reverse` runs the
    /// backward direction). B and C are shared by the channels of a token, so their loads
    /// are broadcasts; u, Δ and y accesses are coalesced over channels.
    static let scanForward = """
    extern "C" __global__ void ouro_scan_fwd(const float* __restrict__ u, const float* __restrict__ delta,
                                             const float* __restrict__ A, const float* __restrict__ bc,
                                             int ld, int bOff, int cOff, const float* __restrict__ D,
                                             float* __restrict__ y, int B, int L, int E, int N, int reverse) {
        int idx = blockIdx.x * blockDim.x + threadIdx.x;
        if (idx >= B * E) return;
        int b = idx / E, e = idx % E;
        float h[32], a[32];
        #pragma unroll
        for (int n = 0; n < 32; n++) { h[n] = 0.f; a[n] = n < N ? A[e * N + n] : 0.f; }
        float d = D[e];
        for (int i = 0; i < L; i++) {
            int t = reverse ? L - 1 - i : i;
            size_t row = (size_t)b * L + t;
            float dt = delta[row * E + e], uu = u[row * E + e];
            const float* r = bc + row * ld;
            float acc = d * uu;
            #pragma unroll
            for (int n = 0; n < 32; n++) {
                if (n < N) {
                    h[n] = expf(dt * a[n]) * h[n] + dt * r[bOff + n] * uu;
                    acc += r[cOff + n] * h[n];
                }
            }
            y[row * E + e] = acc;
        }
    }
    """
}

/// GPU versions of engine kernels (the CPU ones are in `Kernels/`).
public enum GPUScan {
    /// y = scan(u, Δ, A, B, C, D) on the GPU; same layouts as `SelectiveScan.forward`, with A as (E, N).
    public static func forward(_ dev: CUDADevice, shape s: SelectiveScan.Shape, u: [Float], delta: [Float], a: [Float],
                               bc: [Float], ld: Int, bOffset: Int, cOffset: Int, d: [Float], reverse: Bool) throws -> [Float] {
        guard s.state <= 32 else { throw CUDAError("GPU scan supports d_state ≤ 32, got \(s.state)") }
        let f = try dev.function("ouro_scan_fwd", source: GPUKernels.scanForward)
        let bu = try CUDADevice.Buffer(dev, u), bd = try CUDADevice.Buffer(dev, delta), ba = try CUDADevice.Buffer(dev, a)
        let bbc = try CUDADevice.Buffer(dev, bc), bD = try CUDADevice.Buffer(dev, d)
        let by = try CUDADevice.Buffer(dev, count: s.batch * s.length * s.channels)
        let threads = s.batch * s.channels, block = 128
        try dev.launch(f, grid: (threads + block - 1) / block, block: block,
                       args: [bu.ptr, bd.ptr, ba.ptr, bbc.ptr, Int32(ld), Int32(bOffset), Int32(cOffset), bD.ptr, by.ptr,
                              Int32(s.batch), Int32(s.length), Int32(s.channels), Int32(s.state), Int32(reverse ? 1 : 0)])
        return try by.download()
    }
}
