import OuroSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `GPUDevice` that runs the CUDA C kernel sources on the host CPU, so GPU code paths are
/// tested where no GPU exists. Each module is compiled once with the host C++ compiler
/// (`$OUROMAMBA_HOST_CXX`, else `clang++` or `g++`) against a small header that defines the
/// CUDA built-ins; every kernel gets a generated launcher that runs the grid's blocks in
/// parallel and each block's threads in order. Kernels for it may not use shared memory,
/// barriers, warp shuffles or atomics (each thread must be independent), which the header
/// turns into compile errors. Device memory is host memory; sgemm is OpenBLAS.
/// `@unchecked Sendable`: a lock box: its allocation table and module cache are behind `lock`.
public final class EmulatedGPUDevice: GPUDevice, @unchecked Sendable {
    public let name = "emulated GPU (host CPU)"
    public let memoryBytes: Int? = nil
    private let compiler: String
    private let folder: URL
    private var libraries: [String: UnsafeMutableRawPointer] = [:]
    private var functions: [String: GPUFunction] = [:]
    private let lock = NSLock()
    private let runner: ParallelRunner
    /// Live allocations (address → size), for the guard check after every launch when
    /// `OUROMAMBA_EMU_CHECK` is set (finds the kernel that wrote past its buffer).
    private var live: [UInt: Int] = [:]
    private let checkGuards = ProcessInfo.processInfo.environment["OUROMAMBA_EMU_CHECK"] != nil

    private typealias Launcher = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32,
                                                 UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Void

    /// Finds a host C++ compiler; throws when there is none.
    public init(threads: Int = Hardware.cores) throws {
        let env = ProcessInfo.processInfo.environment
        let candidates = [env["OUROMAMBA_HOST_CXX"]].compactMap { $0 } + ["clang++", "g++"]
        let path = (env["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init) + ["/usr/bin", "/opt/swift/usr/bin"]
        var found: String?
        for c in candidates {
            if c.hasPrefix("/") { if FileManager.default.isExecutableFile(atPath: c) { found = c; break } else { continue } }
            if let dir = path.first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/" + c) }) { found = dir + "/" + c; break }
        }
        guard let found else { throw CUDAError("emulated GPU: no host C++ compiler (tried \(candidates.joined(separator: ", ")); set OUROMAMBA_HOST_CXX)") }
        compiler = found
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ouromamba-emu-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        runner = ParallelRunner(threads: threads)
    }

    deinit {
        for (_, h) in libraries { dlclose(h) }
        try? FileManager.default.removeItem(at: folder)
    }

    /// Bytes of guard after every allocation, checked when it is freed.
    static let guardBytes = 4096

    public func allocate(bytes: Int) throws -> GPUBuffer {
        let size = max(16, bytes), g = Self.guardBytes
        let p = UnsafeMutableRawPointer.allocate(byteCount: size + g, alignment: 64)
        // Poison fresh memory so a kernel that reads what it never wrote fails its test, and
        // fill a guard region so one that writes past its buffer is caught.
        p.initializeMemory(as: UInt8.self, repeating: 0xFF, count: size)
        (p + size).initializeMemory(as: UInt8.self, repeating: 0xA5, count: g)
        if checkGuards { lock.lock(); live[UInt(bitPattern: p)] = size; lock.unlock() }
        return GPUBuffer(device: self, address: UInt64(UInt(bitPattern: p)), bytes: bytes) { [weak self] a in
            let q = UnsafeMutableRawPointer(bitPattern: UInt(a))!
            if let self, self.checkGuards { self.lock.lock(); self.live[UInt(a)] = nil; self.lock.unlock() }
            let guardRegion = UnsafeRawBufferPointer(start: q + size, count: g)
            precondition(guardRegion.allSatisfy { $0 == 0xA5 }, "emulated GPU: a kernel wrote past the end of a \(bytes)-byte buffer")
            q.deallocate()
        }
    }

    private func host(_ b: GPUBuffer, _ offset: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(b.address))! + offset
    }

    public func upload(_ src: UnsafeRawPointer, bytes: Int, to dst: GPUBuffer, offset: Int) throws {
        precondition(offset + bytes <= dst.bytes, "upload past the end of a device buffer")
        host(dst, offset).copyMemory(from: src, byteCount: bytes)
    }

    public func download(_ src: GPUBuffer, offset: Int, bytes: Int, to dst: UnsafeMutableRawPointer) throws {
        precondition(offset + bytes <= src.bytes, "download past the end of a device buffer")
        dst.copyMemory(from: host(src, offset), byteCount: bytes)
    }

    public func zero(_ dst: GPUBuffer, offset: Int, bytes: Int) throws {
        host(dst, offset).initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    public func function(_ name: String, in module: GPUModuleSource) throws -> GPUFunction {
        lock.lock(); defer { lock.unlock() }
        let key = module.name + "/" + name
        if let f = functions[key] { return f }
        let lib: UnsafeMutableRawPointer
        if let l = libraries[module.name] { lib = l } else { lib = try compile(module); libraries[module.name] = lib }
        guard let sym = dlsym(lib, "emu_launch_" + name) else {
            throw CUDAError("emulated GPU: module \(module.name) has no kernel \(name)")
        }
        let f = GPUFunction(name: name, handle: sym)
        functions[key] = f
        return f
    }

    private func compile(_ module: GPUModuleSource) throws -> UnsafeMutableRawPointer {
        let kernels = try Self.kernelSignatures(module.code)
        var code = Self.header + "\n" + module.code + "\n"
        for k in kernels {
            let call = k.types.enumerated().map { "*(\($0.element)*)a[\($0.offset)]" }.joined(separator: ", ")
            code += """
            extern "C" void emu_launch_\(k.name)(int gx, int gy, int gz, int bx, int by, int bz, int b0, int b1, void** a) {
                gridDim = {(unsigned)gx, (unsigned)gy, (unsigned)gz}; blockDim = {(unsigned)bx, (unsigned)by, (unsigned)bz};
                for (int lin = b0; lin < b1; lin++) {
                    blockIdx = {(unsigned)(lin % gx), (unsigned)((lin / gx) % gy), (unsigned)(lin / (gx * gy))};
                    for (int tz = 0; tz < bz; tz++) for (int ty = 0; ty < by; ty++) for (int tx = 0; tx < bx; tx++) {
                        threadIdx = {(unsigned)tx, (unsigned)ty, (unsigned)tz};
                        \(k.name)(\(call));
                    }
                }
            }

            """
        }
        let src = folder.appendingPathComponent(module.name + ".cpp"), out = folder.appendingPathComponent(module.name + ".so")
        try code.write(to: src, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: compiler)
        p.arguments = ["-O2", "-ffp-contract=off", "-std=c++17", "-shared", "-fPIC", "-w", "-o", out.path, src.path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = err
        try p.run()
        let log = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CUDAError("emulated GPU: \(compiler) could not compile module \(module.name):\n\(String(decoding: log, as: UTF8.self).prefix(4000))")
        }
        guard let h = dlopen(out.path, RTLD_NOW | RTLD_LOCAL) else {
            throw CUDAError("emulated GPU: dlopen(\(out.path)) failed: \(String(cString: dlerror()))")
        }
        return h
    }

    /// Names and parameter types of the `extern "C" __global__` kernels in `code`.
    static func kernelSignatures(_ code: String) throws -> [(name: String, types: [String])] {
        var result: [(String, [String])] = []
        // A private copy: Foundation's searches build lazy UTF-16 indexes on a string's storage,
        // which raced when parallel tests parsed the same shared module source.
        let text = String(decoding: Array(code.utf8), as: UTF8.self)
        var rest = Substring(text)
        while let r = rest.range(of: "__global__ void ") {
            rest = rest[r.upperBound...]
            guard let open = rest.firstIndex(of: "("), let close = rest.firstIndex(of: ")") else {
                throw CUDAError("emulated GPU: cannot parse a kernel signature")
            }
            let name = rest[..<open].trimmingCharacters(in: .whitespacesAndNewlines)
            let params = rest[rest.index(after: open)..<close].split(separator: ",").map { p -> String in
                var words = p.replacingOccurrences(of: "__restrict__", with: " ").replacingOccurrences(of: "*", with: " * ")
                    .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
                words.removeLast()   // the parameter name
                return words.joined(separator: " ")
            }
            result.append((name, params))
            rest = rest[close...]
        }
        return result
    }

    public func launch(_ f: GPUFunction, grid: GPUDim, block: GPUDim, args: [GPUArg]) throws {
        let launcher = unsafeBitCast(f.handle, to: Launcher.self)
        let blocks = grid.x * grid.y * grid.z
        let jobs = min(blocks, 4 * runner.threads)
        GPUArg.withKernelParameters(args) { base in
            runner.forEach(jobs) { j in
                let b0 = blocks * j / jobs, b1 = blocks * (j + 1) / jobs
                launcher(Int32(grid.x), Int32(grid.y), Int32(grid.z), Int32(block.x), Int32(block.y), Int32(block.z),
                         Int32(b0), Int32(b1), base)
            }
        }
        if checkGuards {
            lock.lock(); defer { lock.unlock() }
            for (a, size) in live {
                let g = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: a)! + size, count: Self.guardBytes)
                precondition(g.allSatisfy { $0 == 0xA5 }, "emulated GPU: kernel \(f.name) wrote past the end of a \(size)-byte buffer")
            }
        }
    }

    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UInt64, lda: Int,
                      b: UInt64, ldb: Int, beta: Float, c: UInt64, ldc: Int) throws {
        func p(_ x: UInt64) -> UnsafeMutablePointer<Float> { UnsafeMutablePointer(bitPattern: UInt(x))! }
        BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: p(a), lda: lda, b: p(b), ldb: ldb,
                   beta: beta, c: p(c), ldc: ldc, runner: runner)
    }

    public func synchronize() throws {}

    /// The CUDA built-ins a sync-free kernel uses, for the host compiler.
    static let header = """
    #include <math.h>
    #include <stddef.h>
    #include <stdint.h>
    struct emu_dim3 { unsigned x, y, z; };
    static thread_local emu_dim3 threadIdx, blockIdx, blockDim, gridDim;
    #define __global__
    #define __device__
    #define __forceinline__ inline
    #define __restrict__ __restrict
    #define __shared__ shared_memory_is_not_emulated
    #define __syncthreads() barriers_are_not_emulated
    #define atomicAdd atomics_are_not_emulated
    #define __shfl_xor_sync warp_shuffles_are_not_emulated
    #include <string.h>
    static inline float __int_as_float(int v) { float f; memcpy(&f, &v, 4); return f; }
    static inline int __float_as_int(float f) { int v; memcpy(&v, &f, 4); return v; }
    static inline double __longlong_as_double(long long v) { double d; memcpy(&d, &v, 8); return d; }
    static inline long long __double_as_longlong(double d) { long long v; memcpy(&v, &d, 8); return v; }
    static inline double __dadd_rn(double a, double b) { return a + b; }
    static inline double __dsub_rn(double a, double b) { return a - b; }
    static inline double __dmul_rn(double a, double b) { return a * b; }
    static inline double __ddiv_rn(double a, double b) { return a / b; }
    static inline double __dsqrt_rn(double a) { return sqrt(a); }
    """
}
