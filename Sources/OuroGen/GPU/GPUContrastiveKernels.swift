import OuroEngine

/// CUDA C kernels of the contrastive loss on patched SSM states (`method.md` §3.3–3.5): the
/// heavy, per-channel parts (patched features, similarities, and the backward into states, C
/// and Δ). The per-patch InfoNCE decisions (top-k, softmax) stay on the host, shared with
/// the CPU loss. Sums run in the CPU loss's order, in float64 where it uses float64.
enum GPUContrastiveKernels {
    /// Most candidates per patch that the device InfoNCE holds (per-thread arrays).
    static let maxCandidates = 128
    static let module = GPUModuleSource(name: "ouro_gen_contrastive", code: "#define GEN_MAX_CAND \(maxCandidates)\n" + CUDASource.ouroGenContrastive)
}

extension GenObjective {
    /// The CUDA C module of the contrastive loss kernels (for compile checks).
    public static var gpuKernelModule: GPUModuleSource { GPUContrastiveKernels.module }
}
