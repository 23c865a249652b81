import OuroEngine

/// CUDA C kernels of the model's own layout steps (the per-op kernels live in the engine).
enum GPUModelKernels {
    static let module = GPUModuleSource(name: "ouro_model", code: CUDASource.ouroModel)
}
