import Foundation
import OuroSupport

/// NVRTC (libnvrtc.so), loaded with dlopen: compiles CUDA C source to PTX. Needs no driver
/// or GPU, so kernel sources are compile-checked on any machine that has the library.
public final class NVRTCCompiler {
    private typealias NCreate = @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafePointer<CChar>, UnsafePointer<CChar>,
                                                Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    private typealias NCompile = @convention(c) (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    private typealias NSize = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>) -> Int32
    private typealias NGet = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>) -> Int32
    private typealias NDestroy = @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Int32

    private let nvCreate: NCreate, nvCompile: NCompile, nvPTXSize: NSize, nvPTX: NGet, nvLogSize: NSize, nvLog: NGet, nvDestroy: NDestroy

    /// Opens NVRTC from `$OUROMAMBA_CUDA_LIBS` or the standard CUDA folders.
    public init() throws {
        let nv = try CUDALibraries.open(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"], what: "NVRTC (libnvrtc.so)")
        nvCreate = try CUDALibraries.symbol(nv, "nvrtcCreateProgram", as: NCreate.self)
        nvCompile = try CUDALibraries.symbol(nv, "nvrtcCompileProgram", as: NCompile.self)
        nvPTXSize = try CUDALibraries.symbol(nv, "nvrtcGetPTXSize", as: NSize.self)
        nvPTX = try CUDALibraries.symbol(nv, "nvrtcGetPTX", as: NGet.self)
        nvLogSize = try CUDALibraries.symbol(nv, "nvrtcGetProgramLogSize", as: NSize.self)
        nvLog = try CUDALibraries.symbol(nv, "nvrtcGetProgramLog", as: NGet.self)
        nvDestroy = try CUDALibraries.symbol(nv, "nvrtcDestroyProgram", as: NDestroy.self)
    }

    /// PTX for `source` on compute capability `arch` (e.g. 90); throws with NVRTC's log.
    public func ptx(_ source: GPUModuleSource, arch: Int) throws -> [CChar] {
        var prog: OpaquePointer?
        guard nvCreate(&prog, source.code, source.name + ".cu", 0, nil, nil) == 0 else {
            throw CUDAError("nvrtcCreateProgram failed for module \(source.name)")
        }
        defer { _ = nvDestroy(&prog) }
        let opts = ["--gpu-architecture=compute_\(arch)", "--std=c++17", "-default-device"]
        let cOpts = opts.map { strdup($0) }
        defer { cOpts.forEach { free($0) } }
        let optPtrs = cOpts.map { UnsafePointer<CChar>($0) }
        let rc = optPtrs.withUnsafeBufferPointer { nvCompile(prog, Int32(opts.count), $0.baseAddress) }
        if rc != 0 {
            var n = 0
            _ = nvLogSize(prog, &n)
            var log = [CChar](repeating: 0, count: n + 1)
            _ = nvLog(prog, &log)
            throw CUDAError("NVRTC could not compile module \(source.name): \(String(nulTerminated: log))")
        }
        var n = 0
        _ = nvPTXSize(prog, &n)
        var ptx = [CChar](repeating: 0, count: n + 1)
        _ = nvPTX(prog, &ptx)
        return ptx
    }
}
