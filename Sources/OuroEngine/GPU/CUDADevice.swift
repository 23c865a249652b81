import Foundation
import OuroSupport

/// A CUDA GPU (device 0): the driver API (libcuda.so.1), NVRTC and cuBLAS, all loaded with
/// dlopen, so the package has no link-time CUDA dependency. Kernels are CUDA C source
/// compiled by NVRTC at first use and cached per module. All work goes to the legacy default
/// stream, so launches and cuBLAS calls are ordered; downloads wait for them.
/// `@unchecked Sendable`: its module cache is behind `lock` and the profile table behind
/// `profileLock`; the context, stream and library handles are immutable after `init`.
public final class CUDADevice: GPUDevice, @unchecked Sendable {
    typealias CUresult = Int32
    private typealias FInit = @convention(c) (UInt32) -> CUresult
    private typealias FCount = @convention(c) (UnsafeMutablePointer<Int32>) -> CUresult
    private typealias FGet = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> CUresult
    private typealias FName = @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> CUresult
    private typealias FAttr = @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> CUresult
    private typealias FRetain = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32) -> CUresult
    private typealias FSetCurrent = @convention(c) (OpaquePointer?) -> CUresult
    private typealias FSync = @convention(c) () -> CUresult
    private typealias FModLoad = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> CUresult
    private typealias FModFunc = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer?, UnsafePointer<CChar>) -> CUresult
    private typealias FAlloc = @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> CUresult
    private typealias FFree = @convention(c) (UInt64) -> CUresult
    private typealias FHtoD = @convention(c) (UInt64, UnsafeRawPointer, Int) -> CUresult
    private typealias FDtoH = @convention(c) (UnsafeMutableRawPointer, UInt64, Int) -> CUresult
    private typealias FMemset = @convention(c) (UInt64, UInt8, Int) -> CUresult
    private typealias FTotalMem = @convention(c) (UnsafeMutablePointer<Int>, Int32) -> CUresult
    private typealias FLaunch = @convention(c) (OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                                                OpaquePointer?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                                UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult
    private typealias FErr = @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult
    private typealias FEventCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> CUresult
    private typealias FEventRecord = @convention(c) (OpaquePointer?, OpaquePointer?) -> CUresult
    private typealias FEventSync = @convention(c) (OpaquePointer?) -> CUresult
    private typealias FEventElapsed = @convention(c) (UnsafeMutablePointer<Float>, OpaquePointer?, OpaquePointer?) -> CUresult
    private typealias FEventDestroy = @convention(c) (OpaquePointer?) -> CUresult
    // cuBLAS (v2 API).
    private typealias BCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32
    private typealias BSgemm = @convention(c) (OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>,
                                               UInt64, Int32, UInt64, Int32, UnsafePointer<Float>, UInt64, Int32) -> Int32
    private typealias BGemmEx = @convention(c) (OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafeRawPointer,
                                                UInt64, Int32, Int32, UInt64, Int32, Int32, UnsafeRawPointer,
                                                UInt64, Int32, Int32, Int32, Int32) -> Int32

    private let cuSetCurrent: FSetCurrent, cuSync: FSync, cuModLoad: FModLoad, cuModFunc: FModFunc, cuAlloc: FAlloc
    private let cuFree: FFree, cuHtoD: FHtoD, cuDtoH: FDtoH, cuMemset: FMemset, cuLaunch: FLaunch, cuErr: FErr
    private let cuEventCreate: FEventCreate, cuEventRecord: FEventRecord, cuEventSync: FEventSync
    private let cuEventElapsed: FEventElapsed, cuEventDestroy: FEventDestroy
    private let nvrtc: NVRTCCompiler
    private let context: OpaquePointer?
    private var modules: [String: OpaquePointer] = [:]
    private var functions: [String: GPUFunction] = [:]
    private let lock = NSLock()
    private var blas: (handle: OpaquePointer?, sgemm: BSgemm, gemmEx: BGemmEx)?

    /// When true, every launch, sgemm and copy waits for the GPU and its time is added to
    /// `profile` (for finding where a pass spends its time; slows the pass down).
    public var profiling = false {
        didSet { profileLock.lock(); profileTable = [:]; profileLock.unlock() }
    }
    private var profileTable: [String: (calls: Int, seconds: Double)] = [:]
    private let profileLock = NSLock()

    /// Time per operation since profiling was switched on, slowest first.
    public var profile: [(name: String, calls: Int, seconds: Double)] {
        profileLock.lock(); defer { profileLock.unlock() }
        return profileTable.map { ($0.key, $0.value.calls, $0.value.seconds) }.sorted { $0.seconds > $1.seconds }
    }

    private func timed(_ name: String, _ body: () throws -> Void) throws {
        guard profiling else { return try body() }
        _ = cuSync()
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        _ = cuSync()
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        profileLock.lock()
        let old = profileTable[name] ?? (0, 0)
        profileTable[name] = (old.calls + 1, old.seconds + s)
        profileLock.unlock()
    }

    /// Device name (e.g. "NVIDIA H100 80GB HBM3").
    public let name: String
    /// Compute capability (e.g. 9.0).
    public let computeCapability: (major: Int, minor: Int)
    public let memoryBytes: Int?

    /// Opens device 0 (its primary context); throws a clear error when there is no driver or GPU.
    public init() throws {
        let cu = try CUDALibraries.open(["libcuda.so.1", "libcuda.so"], what: "CUDA driver (libcuda.so.1)")
        nvrtc = try NVRTCCompiler()
        let cuInit = try CUDALibraries.symbol(cu, "cuInit", as: FInit.self)
        let count = try CUDALibraries.symbol(cu, "cuDeviceGetCount", as: FCount.self)
        let get = try CUDALibraries.symbol(cu, "cuDeviceGet", as: FGet.self)
        let getName = try CUDALibraries.symbol(cu, "cuDeviceGetName", as: FName.self)
        let attr = try CUDALibraries.symbol(cu, "cuDeviceGetAttribute", as: FAttr.self)
        let retain = try CUDALibraries.symbol(cu, "cuDevicePrimaryCtxRetain", as: FRetain.self)
        cuSetCurrent = try CUDALibraries.symbol(cu, "cuCtxSetCurrent", as: FSetCurrent.self)
        cuSync = try CUDALibraries.symbol(cu, "cuCtxSynchronize", as: FSync.self)
        cuModLoad = try CUDALibraries.symbol(cu, "cuModuleLoadData", as: FModLoad.self)
        cuModFunc = try CUDALibraries.symbol(cu, "cuModuleGetFunction", as: FModFunc.self)
        cuAlloc = try CUDALibraries.symbol(cu, "cuMemAlloc_v2", as: FAlloc.self)
        cuFree = try CUDALibraries.symbol(cu, "cuMemFree_v2", as: FFree.self)
        cuHtoD = try CUDALibraries.symbol(cu, "cuMemcpyHtoD_v2", as: FHtoD.self)
        cuDtoH = try CUDALibraries.symbol(cu, "cuMemcpyDtoH_v2", as: FDtoH.self)
        cuMemset = try CUDALibraries.symbol(cu, "cuMemsetD8_v2", as: FMemset.self)
        cuLaunch = try CUDALibraries.symbol(cu, "cuLaunchKernel", as: FLaunch.self)
        cuErr = try CUDALibraries.symbol(cu, "cuGetErrorString", as: FErr.self)
        cuEventCreate = try CUDALibraries.symbol(cu, "cuEventCreate", as: FEventCreate.self)
        cuEventRecord = try CUDALibraries.symbol(cu, "cuEventRecord", as: FEventRecord.self)
        cuEventSync = try CUDALibraries.symbol(cu, "cuEventSynchronize", as: FEventSync.self)
        cuEventElapsed = try CUDALibraries.symbol(cu, "cuEventElapsedTime_v2", as: FEventElapsed.self, fallback: "cuEventElapsedTime")
        cuEventDestroy = try CUDALibraries.symbol(cu, "cuEventDestroy_v2", as: FEventDestroy.self)
        let r = cuInit(0)
        guard r == 0 else { throw CUDAError("cuInit failed with CUDA error \(r): no usable NVIDIA driver/GPU") }
        var n: Int32 = 0
        guard count(&n) == 0, n > 0 else { throw CUDAError("no CUDA device found (cuDeviceGetCount = \(n))") }
        var dev: Int32 = 0
        _ = get(&dev, 0)
        var buf = [CChar](repeating: 0, count: 256)
        _ = getName(&buf, 255, dev)
        name = String(nulTerminated: buf)
        var major: Int32 = 0, minor: Int32 = 0
        _ = attr(&major, 75, dev)   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
        _ = attr(&minor, 76, dev)   // …_MINOR
        computeCapability = (Int(major), Int(minor))
        var total = 0
        let totalMem = try CUDALibraries.symbol(cu, "cuDeviceTotalMem_v2", as: FTotalMem.self)
        memoryBytes = totalMem(&total, dev) == 0 ? total : nil
        var ctx: OpaquePointer?
        let rc = retain(&ctx, dev)
        guard rc == 0 else { throw CUDAError("cuDevicePrimaryCtxRetain failed with CUDA error \(rc)") }
        context = ctx
        _ = cuSetCurrent(ctx)
    }

    /// Makes the context current on the calling thread (commands may run on any thread).
    private func current() { _ = cuSetCurrent(context) }

    func check(_ r: CUresult, _ what: String) throws {
        guard r != 0 else { return }
        var s: UnsafePointer<CChar>?
        _ = cuErr(r, &s)
        throw CUDAError("\(what): CUDA error \(r) \(s.map { String(cString: $0) } ?? "")")
    }

    public func allocate(bytes: Int) throws -> GPUBuffer {
        current()
        var p: UInt64 = 0
        try check(cuAlloc(&p, max(1, bytes)), "cuMemAlloc(\(bytes) bytes)")
        // The driver's context handle and entry points are immutable after init.
        nonisolated(unsafe) let free = cuFree, setCurrent = cuSetCurrent, ctx = context
        return GPUBuffer(device: self, address: p, bytes: bytes) { a in _ = setCurrent(ctx); _ = free(a) }
    }

    public func upload(_ src: UnsafeRawPointer, bytes: Int, to dst: GPUBuffer, offset: Int) throws {
        precondition(offset + bytes <= dst.bytes, "upload past the end of a device buffer")
        current()
        try timed("memcpy host→device") { try check(cuHtoD(dst.address + UInt64(offset), src, bytes), "cuMemcpyHtoD") }
    }

    public func download(_ src: GPUBuffer, offset: Int, bytes: Int, to dst: UnsafeMutableRawPointer) throws {
        precondition(offset + bytes <= src.bytes, "download past the end of a device buffer")
        current()
        try timed("memcpy device→host") { try check(cuDtoH(dst, src.address + UInt64(offset), bytes), "cuMemcpyDtoH") }
    }

    public func zero(_ dst: GPUBuffer, offset: Int, bytes: Int) throws {
        current()
        try check(cuMemset(dst.address + UInt64(offset), 0, bytes), "cuMemsetD8")
    }

    public func function(_ name: String, in module: GPUModuleSource) throws -> GPUFunction {
        lock.lock(); defer { lock.unlock() }
        current()
        let key = module.name + "/" + name
        if let f = functions[key] { return f }
        let mod: OpaquePointer
        if let m = modules[module.name] {
            mod = m
        } else {
            let ptx = try nvrtc.ptx(module, arch: computeCapability.major * 10 + computeCapability.minor)
            var m: OpaquePointer?
            try check(ptx.withUnsafeBytes { cuModLoad(&m, $0.baseAddress!) }, "cuModuleLoadData(\(module.name))")
            modules[module.name] = m!
            mod = m!
        }
        var f: OpaquePointer?
        try check(cuModFunc(&f, mod, name), "cuModuleGetFunction(\(name))")
        let fn = GPUFunction(name: name, handle: UnsafeMutableRawPointer(f!))
        functions[key] = fn
        return fn
    }

    public func launch(_ f: GPUFunction, grid: GPUDim, block: GPUDim, args: [GPUArg]) throws {
        current()
        try timed(f.name) { try GPUArg.withKernelParameters(args) { params in
            try check(cuLaunch(OpaquePointer(f.handle), UInt32(grid.x), UInt32(grid.y), UInt32(grid.z),
                               UInt32(block.x), UInt32(block.y), UInt32(block.z), 0, nil, params, nil),
                      "cuLaunchKernel(\(f.name))")
        }}
    }

    public func synchronize() throws {
        current()
        try check(cuSync(), "cuCtxSynchronize")
    }

    private func cublas() throws -> (handle: OpaquePointer?, sgemm: BSgemm, gemmEx: BGemmEx) {
        lock.lock(); defer { lock.unlock() }
        if let blas { return blas }
        current()
        let lib = try CUDALibraries.open(["libcublas.so.13", "libcublas.so.12", "libcublas.so"], what: "cuBLAS (libcublas.so)")
        let create = try CUDALibraries.symbol(lib, "cublasCreate_v2", as: BCreate.self)
        let sgemm = try CUDALibraries.symbol(lib, "cublasSgemm_v2", as: BSgemm.self)
        let gemmEx = try CUDALibraries.symbol(lib, "cublasGemmEx", as: BGemmEx.self)
        var h: OpaquePointer?
        let rc = create(&h)
        guard rc == 0 else { throw CUDAError("cublasCreate failed with status \(rc)") }
        blas = (h, sgemm, gemmEx)
        return blas!
    }

    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UInt64, lda: Int,
                      b: UInt64, ldb: Int, beta: Float, c: UInt64, ldc: Int) throws {
        let bl = try cublas()
        current()
        // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ.
        var al = alpha, be = beta
        try timed("cublasSgemm") {
            let rc = bl.sgemm(bl.handle, transB ? 1 : 0, transA ? 1 : 0, Int32(n), Int32(m), Int32(k), &al,
                              b, Int32(ldb), a, Int32(lda), &be, c, Int32(ldc))
            guard rc == 0 else { throw CUDAError("cublasSgemm(m \(m), n \(n), k \(k)) failed with status \(rc)") }
        }
    }

    /// Row-major half-precision GEMM C = A·Bᵀ (A m×k, B n×k, C m×n, all FP16, FP32
    /// accumulation): the cuBLAS FP16 baseline of the GEMM benchmark.
    public func hgemmNT(m: Int, n: Int, k: Int, a: UInt64, b: UInt64, c: UInt64) throws {
        let bl = try cublas()
        current()
        var al: Float = 1, be: Float = 0
        // CUDA_R_16F = 2, CUBLAS_COMPUTE_32F = 68, CUBLAS_GEMM_DEFAULT_TENSOR_OP = 99.
        let rc = bl.gemmEx(bl.handle, 1, 0, Int32(n), Int32(m), Int32(k), &al, b, 2, Int32(k), a, 2, Int32(k), &be,
                           c, 2, Int32(n), 68, 99)
        guard rc == 0 else { throw CUDAError("cublasGemmEx FP16 (m \(m), n \(n), k \(k)) failed with status \(rc)") }
    }

    /// Milliseconds of GPU time that `body`'s queued work took (CUDA events on the default stream).
    public func time(_ body: () throws -> Void) throws -> Double {
        current()
        var e0: OpaquePointer?, e1: OpaquePointer?
        try check(cuEventCreate(&e0, 0), "cuEventCreate")
        try check(cuEventCreate(&e1, 0), "cuEventCreate")
        defer { _ = cuEventDestroy(e0); _ = cuEventDestroy(e1) }
        try check(cuEventRecord(e0, nil), "cuEventRecord")
        try body()
        try check(cuEventRecord(e1, nil), "cuEventRecord")
        try check(cuEventSync(e1), "cuEventSynchronize")
        var ms: Float = 0
        try check(cuEventElapsed(&ms, e0, e1), "cuEventElapsedTime")
        return Double(ms)
    }
}
