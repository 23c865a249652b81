import OuroEngine

/// CUDA C source of the calibration statistics (`method.md` §4.4, §4.7) on device activations.
///
/// The kernels reproduce the host reduction (`CalibrationHooks`, `OutlierRules`, `LpError`)
/// operation for operation, so on the same activations they give bit-identical statistics:
/// every Double operation is an explicit round-to-nearest intrinsic (NVRTC would otherwise fuse
/// multiply-adds, which the host code never does), every sum runs in the host's order, and
/// `smax`/`smin` are Swift's `max`/`min` (they differ from `fmaxf` on signed zeros).
/// Barrier- and atomic-free, so the emulated device runs them too.
///
/// Activation rows are addressed by step: step t of a reversed point is row L − 1 − t.
enum GPUCalibrationKernels {
    static let module = GPUModuleSource(name: "ouro_calibration", code: CUDASource.ouroCalibration)
}
