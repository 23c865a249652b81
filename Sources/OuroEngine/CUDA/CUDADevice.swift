import Foundation

/// The CUDA driver API (libcuda.so.1) and NVRTC, loaded with dlopen, and one context on
/// device 0. Kernels are CUDA C source strings compiled by NVRTC at first use and cached.
public final class CUDADevice {
    typealias CUresult = Int32
    private typealias FInit = @convention(c) (UInt32) -> CUresult
    private typealias FCount = @convention(c) (UnsafeMutablePointer<Int32>) -> CUresult
    private typealias FGet = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> CUresult
    private typealias FName = @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> CUresult
    private typealias FAttr = @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> CUresult
    private typealias FCtxCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32, Int32) -> CUresult
    private typealias FCtxDestroy = @convention(c) (OpaquePointer?) -> CUresult
    private typealias FSync = @convention(c) () -> CUresult
    private typealias FModLoad = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> CUresult
    private typealias FModFunc = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer?, UnsafePointer<CChar>) -> CUresult
    private typealias FAlloc = @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> CUresult
    private typealias FFree = @convention(c) (UInt64) -> CUresult
    private typealias FHtoD = @convention(c) (UInt64, UnsafeRawPointer, Int) -> CUresult
    private typealias FDtoH = @convention(c) (UnsafeMutableRawPointer, UInt64, Int) -> CUresult
    private typealias FLaunch = @convention(c) (OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                                                OpaquePointer?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                                UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> CUresult
    private typealias FErr = @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> CUresult

    private typealias NCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafePointer<CChar>, UnsafePointer<CChar>,
                                                Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    private typealias NCompile = @convention(c) (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    private typealias NSize = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>) -> Int32
    private typealias NGet = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>) -> Int32
    private typealias NDestroy = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32

    private let cuSync: FSync, cuModLoad: FModLoad, cuModFunc: FModFunc, cuAlloc: FAlloc, cuFree: FFree
    private let cuHtoD: FHtoD, cuDtoH: FDtoH, cuLaunch: FLaunch, cuErr: FErr, cuCtxDestroy: FCtxDestroy
    private let nvCreate: NCreate, nvCompile: NCompile, nvPTXSize: NSize, nvPTX: NGet, nvLogSize: NSize, nvLog: NGet, nvDestroy: NDestroy
    private var context: OpaquePointer?
    private var functions: [String: OpaquePointer] = [:]

    /// Device name and compute capability (e.g. "NVIDIA H100 80GB HBM3", 9.0).
    public let name: String
    public let computeCapability: (major: Int, minor: Int)

    /// Opens device 0; throws a clear error when there is no driver or no GPU.
    public init() throws {
        let cu = try CUDALibraries.open(["libcuda.so.1", "libcuda.so"], what: "CUDA driver (libcuda.so.1)")
        let nv = try CUDALibraries.open(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"], what: "NVRTC (libnvrtc.so)")
        let cuInit = try CUDALibraries.symbol(cu, "cuInit", as: FInit.self)
        let count = try CUDALibraries.symbol(cu, "cuDeviceGetCount", as: FCount.self)
        let get = try CUDALibraries.symbol(cu, "cuDeviceGet", as: FGet.self)
        let getName = try CUDALibraries.symbol(cu, "cuDeviceGetName", as: FName.self)
        let attr = try CUDALibraries.symbol(cu, "cuDeviceGetAttribute", as: FAttr.self)
        let ctxCreate = try CUDALibraries.symbol(cu, "cuCtxCreate_v2", as: FCtxCreate.self)
        cuCtxDestroy = try CUDALibraries.symbol(cu, "cuCtxDestroy_v2", as: FCtxDestroy.self)
        cuSync = try CUDALibraries.symbol(cu, "cuCtxSynchronize", as: FSync.self)
        cuModLoad = try CUDALibraries.symbol(cu, "cuModuleLoadData", as: FModLoad.self)
        cuModFunc = try CUDALibraries.symbol(cu, "cuModuleGetFunction", as: FModFunc.self)
        cuAlloc = try CUDALibraries.symbol(cu, "cuMemAlloc_v2", as: FAlloc.self)
        cuFree = try CUDALibraries.symbol(cu, "cuMemFree_v2", as: FFree.self)
        cuHtoD = try CUDALibraries.symbol(cu, "cuMemcpyHtoD_v2", as: FHtoD.self)
        cuDtoH = try CUDALibraries.symbol(cu, "cuMemcpyDtoH_v2", as: FDtoH.self)
        cuLaunch = try CUDALibraries.symbol(cu, "cuLaunchKernel", as: FLaunch.self)
        cuErr = try CUDALibraries.symbol(cu, "cuGetErrorString", as: FErr.self)
        nvCreate = try CUDALibraries.symbol(nv, "nvrtcCreateProgram", as: NCreate.self)
        nvCompile = try CUDALibraries.symbol(nv, "nvrtcCompileProgram", as: NCompile.self)
        nvPTXSize = try CUDALibraries.symbol(nv, "nvrtcGetPTXSize", as: NSize.self)
        nvPTX = try CUDALibraries.symbol(nv, "nvrtcGetPTX", as: NGet.self)
        nvLogSize = try CUDALibraries.symbol(nv, "nvrtcGetProgramLogSize", as: NSize.self)
        nvLog = try CUDALibraries.symbol(nv, "nvrtcGetProgramLog", as: NGet.self)
        nvDestroy = try CUDALibraries.symbol(nv, "nvrtcDestroyProgram", as: NDestroy.self)
        let r = cuInit(0)
        guard r == 0 else { throw CUDAError("cuInit failed with CUDA error \(r): no usable NVIDIA driver/GPU") }
        var n: Int32 = 0
        guard count(&n) == 0, n > 0 else { throw CUDAError("no CUDA device found (cuDeviceGetCount = \(n))") }
        var dev: Int32 = 0
        _ = get(&dev, 0)
        var buf = [CChar](repeating: 0, count: 256)
        _ = getName(&buf, 255, dev)
        name = String(cString: buf)
        var major: Int32 = 0, minor: Int32 = 0
        _ = attr(&major, 75, dev)   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
        _ = attr(&minor, 76, dev)   // …_MINOR
        computeCapability = (Int(major), Int(minor))
        var ctx: OpaquePointer?
        let rc = ctxCreate(&ctx, 0, dev)
        guard rc == 0 else { throw CUDAError("cuCtxCreate failed with CUDA error \(rc)") }
        context = ctx
    }

    deinit { if let context { _ = cuCtxDestroy(context) } }

    func check(_ r: CUresult, _ what: String) throws {
        guard r != 0 else { return }
        var s: UnsafePointer<CChar>?
        _ = cuErr(r, &s)
        throw CUDAError("\(what): CUDA error \(r) \(s.map { String(cString: $0) } ?? "")")
    }

    /// Compiles `source` with NVRTC for this device (once) and returns the kernel `name`.
    func function(_ name: String, source: String) throws -> OpaquePointer {
        if let f = functions[name] { return f }
        var prog: OpaquePointer?
        guard nvCreate(&prog, source, name + ".cu", 0, nil, nil) == 0 else { throw CUDAError("nvrtcCreateProgram failed for \(name)") }
        defer { _ = nvDestroy(&prog) }
        let arch = "--gpu-architecture=compute_\(computeCapability.major)\(computeCapability.minor)"
        let opts = [arch, "--std=c++17", "-default-device"]
        let cOpts = opts.map { strdup($0) }
        defer { cOpts.forEach { free($0) } }
        let optPtrs = cOpts.map { UnsafePointer<CChar>($0) }
        let rc = optPtrs.withUnsafeBufferPointer { nvCompile(prog, Int32(opts.count), $0.baseAddress) }
        if rc != 0 {
            var n = 0
            _ = nvLogSize(prog, &n)
            var log = [CChar](repeating: 0, count: n + 1)
            _ = nvLog(prog, &log)
            throw CUDAError("NVRTC could not compile \(name): \(String(cString: log))")
        }
        var n = 0
        _ = nvPTXSize(prog, &n)
        var ptx = [CChar](repeating: 0, count: n + 1)
        _ = nvPTX(prog, &ptx)
        var module: OpaquePointer?
        try check(ptx.withUnsafeBytes { cuModLoad(&module, $0.baseAddress!) }, "cuModuleLoadData(\(name))")
        var f: OpaquePointer?
        try check(cuModFunc(&f, module, name), "cuModuleGetFunction(\(name))")
        functions[name] = f!
        return f!
    }

    /// A device buffer of floats (freed on deinit).
    final class Buffer {
        let device: CUDADevice, ptr: UInt64, count: Int
        init(_ device: CUDADevice, count: Int) throws {
            var p: UInt64 = 0
            try device.check(device.cuAlloc(&p, max(1, count) * 4), "cuMemAlloc(\(count) floats)")
            self.device = device; self.ptr = p; self.count = count
        }
        convenience init(_ device: CUDADevice, _ values: [Float]) throws {
            try self.init(device, count: values.count)
            try values.withUnsafeBytes { try device.check(device.cuHtoD(ptr, $0.baseAddress!, values.count * 4), "cuMemcpyHtoD") }
        }
        func download() throws -> [Float] {
            var out = [Float](repeating: 0, count: count)
            try out.withUnsafeMutableBytes { try device.check(device.cuDtoH($0.baseAddress!, ptr, count * 4), "cuMemcpyDtoH") }
            return out
        }
        deinit { _ = device.cuFree(ptr) }
    }

    /// Launches `f` with the argument values (each passed by address, as cuLaunchKernel wants).
    func launch(_ f: OpaquePointer, grid: Int, block: Int, args: [Any]) throws {
        var storage: [UnsafeMutableRawPointer] = []
        defer { storage.forEach { $0.deallocate() } }
        for a in args {
            switch a {
            case let v as UInt64: let p = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8); p.storeBytes(of: v, as: UInt64.self); storage.append(p)
            case let v as Int32: let p = UnsafeMutableRawPointer.allocate(byteCount: 4, alignment: 4); p.storeBytes(of: v, as: Int32.self); storage.append(p)
            default: throw CUDAError("launch: unsupported argument type \(type(of: a))")
            }
        }
        var params: [UnsafeMutableRawPointer?] = storage
        try params.withUnsafeMutableBufferPointer { pp in
            try check(cuLaunch(f, UInt32(grid), 1, 1, UInt32(block), 1, 1, 0, nil, pp.baseAddress, nil), "cuLaunchKernel")
        }
        try check(cuSync(), "cuCtxSynchronize")
    }
}
