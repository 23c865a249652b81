import OuroEngine

/// CUDA C source of the GPU mixed-precision GEMM (method.md 4.9) and its helpers.
///
/// Kernels (all `extern "C"`, sm_80 or newer; NVRTC compiles the module without headers):
/// * `ouro_mp_gemm_128x128`, `_128x128w4`, `_128x256`: int8 activations x int8 weights with
///   `mma.sync.m16n8k32.s8` (int32 accumulation), a cp.async pipeline (3 stages / 2 stages,
///   48 KB static shared memory), XOR-swizzled tiles read with `ldmatrix`; fused epilogue
///   `s_w[o]·(S_I[t]·acc + s_O[t]·acc_O)` written as FP16. The 8-bit outlier term runs in the
///   same block after the main loop: the row group's gathered columns are extra MMA k-steps
///   into a 4-register temporary per 16x8 sub-tile, so it costs about one BK slice per 64
///   outlier columns and no extra pass over the output.
/// * `ouro_mp_quantize_f16` / `_f32`: per-row activation quantization (inliers with the static
///   S_I[t], the group's outlier columns zeroed in q_I and re-quantized to 8 bits with the
///   dynamic s_O[t] into q_O).
/// * `ouro_f32_to_f16`: conversion used to build FP16 inputs.
enum GPUMixedPrecisionKernels {
    static let module = GPUModuleSource(name: "ouro_mpgemm", code: CUDASource.ouroMpgemm)
}
