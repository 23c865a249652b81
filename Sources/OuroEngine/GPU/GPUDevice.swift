/// The backend seam for accelerators: device memory, compiled kernels and row-major sgemm.
///
/// Two implementations exist: `CUDADevice` (a real NVIDIA GPU through the driver API, NVRTC
/// and cuBLAS, all loaded with dlopen) and `EmulatedGPUDevice` (the same CUDA C kernel sources
/// compiled for the host CPU, so kernel logic is tested on machines without a GPU). Code
/// above the engine (model, gen, quant) talks to this protocol only.
public protocol GPUDevice: AnyObject, Sendable {
    /// Human-readable device name.
    var name: String { get }
    /// Total device memory in bytes (nil when the device is host memory).
    var memoryBytes: Int? { get }
    /// Allocates `bytes` bytes of device memory (contents undefined).
    func allocate(bytes: Int) throws -> GPUBuffer
    /// Copies `bytes` bytes from host memory to `dst` + `offset` bytes.
    func upload(_ src: UnsafeRawPointer, bytes: Int, to dst: GPUBuffer, offset: Int) throws
    /// Copies `bytes` bytes from `src` + `offset` bytes to host memory (waits for pending work).
    func download(_ src: GPUBuffer, offset: Int, bytes: Int, to dst: UnsafeMutableRawPointer) throws
    /// Sets `bytes` bytes at `dst` + `offset` to zero.
    func zero(_ dst: GPUBuffer, offset: Int, bytes: Int) throws
    /// Compiles a kernel module (once per device) and returns its kernel `name`.
    func function(_ name: String, in module: GPUModuleSource) throws -> GPUFunction
    /// Launches a kernel; work is ordered on one stream.
    func launch(_ f: GPUFunction, grid: GPUDim, block: GPUDim, args: [GPUArg]) throws
    /// Row-major C = α·op(A)·op(B) + β·C in float32 (pointers are device addresses).
    func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UInt64, lda: Int,
               b: UInt64, ldb: Int, beta: Float, c: UInt64, ldc: Int) throws
    /// Waits for all queued work.
    func synchronize() throws
}

/// A source of CUDA C kernels compiled together (NVRTC on a GPU, the host compiler when emulated).
public struct GPUModuleSource: Sendable {
    /// Unique module name (the cache key).
    public let name: String
    /// CUDA C source; kernels are `extern "C" __global__` functions.
    public let code: String
    public init(name: String, code: String) { self.name = name; self.code = code }
}

/// A compiled kernel of some device.
public final class GPUFunction: Sendable {
    public let name: String
    /// An immutable handle of the loaded kernel (the pointer is never written through here).
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer
    init(name: String, handle: UnsafeMutableRawPointer) { self.name = name; self.handle = handle }
}

/// Launch dimensions.
public struct GPUDim: Sendable {
    public var x: Int, y: Int, z: Int
    public init(_ x: Int, _ y: Int = 1, _ z: Int = 1) { self.x = x; self.y = y; self.z = z }
    /// Enough blocks of `block` threads to cover `count` threads.
    public static func cover(_ count: Int, block: Int) -> GPUDim { GPUDim(max(1, (count + block - 1) / block)) }
}

/// A kernel argument, passed by value.
public enum GPUArg: Sendable {
    case pointer(UInt64)
    case int(Int32)
    case float(Float)

    /// A device pointer `floatOffset` floats into `buffer`.
    public static func floats(_ buffer: GPUBuffer, _ floatOffset: Int = 0) -> GPUArg { .pointer(buffer.address + UInt64(4 * floatOffset)) }
    public static func i(_ v: Int) -> GPUArg { .int(Int32(v)) }

    /// Calls `body` with the launch parameters as cuLaunchKernel wants them: one pointer per
    /// argument, to a copy of its value (8 bytes of storage fit every kind).
    static func withKernelParameters<R>(_ args: [GPUArg], _ body: (UnsafeMutablePointer<UnsafeMutableRawPointer?>) throws -> R) rethrows -> R {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: 8 * max(1, args.count), alignment: 8)
        defer { storage.deallocate() }
        var params = [UnsafeMutableRawPointer?]()
        for (i, a) in args.enumerated() {
            let p = storage + 8 * i
            switch a {
            case .pointer(let v): p.storeBytes(of: v, as: UInt64.self)
            case .int(let v): p.storeBytes(of: v, as: Int32.self)
            case .float(let v): p.storeBytes(of: v, as: Float.self)
            }
            params.append(p)
        }
        return try params.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }
}

/// Device memory owned by one device; freed on deinit.
public final class GPUBuffer: Sendable {
    public let device: GPUDevice
    /// Device address of the first byte.
    public let address: UInt64
    public let bytes: Int
    private let release: @Sendable (UInt64) -> Void

    init(device: GPUDevice, address: UInt64, bytes: Int, release: @escaping @Sendable (UInt64) -> Void) {
        self.device = device; self.address = address; self.bytes = bytes; self.release = release
    }
    deinit { release(address) }

    /// Number of floats it holds.
    public var floatCount: Int { bytes / 4 }
    /// The device address `floatOffset` floats in.
    public func at(_ floatOffset: Int) -> UInt64 { address + UInt64(4 * floatOffset) }
}

extension GPUDevice {
    /// A buffer holding `values` (floats, doubles, integers, bytes).
    public func upload<T: BitwiseCopyable>(_ values: [T]) throws -> GPUBuffer {
        let b = try allocate(bytes: max(1, values.count) * MemoryLayout<T>.stride)
        try upload(values, to: b)
        return b
    }
    /// Copies `values` into the start of `buffer`.
    public func upload<T: BitwiseCopyable>(_ values: [T], to buffer: GPUBuffer) throws {
        if !values.isEmpty { try values.withUnsafeBytes { try upload($0.baseAddress!, bytes: $0.count, to: buffer, offset: 0) } }
    }
    /// The first `count` values of type `T` in `buffer`.
    public func download<T: BitwiseCopyable>(_ buffer: GPUBuffer, count: Int, as: T.Type) throws -> [T] {
        try [T](unsafeUninitializedCapacity: count) { out, n in
            if count > 0 { try download(buffer, offset: 0, bytes: count * MemoryLayout<T>.stride, to: out.baseAddress!) }
            n = count
        }
    }
    /// A float buffer of `count` floats (zero-filled).
    public func zeros(_ count: Int) throws -> GPUBuffer {
        let b = try allocate(bytes: max(1, count) * 4)
        try zero(b, offset: 0, bytes: max(1, count) * 4)
        return b
    }
    /// An uninitialised float buffer of `count` floats.
    public func floats(_ count: Int) throws -> GPUBuffer { try allocate(bytes: max(1, count) * 4) }
    /// `count` floats from `floatOffset` into `buffer`.
    public func download(_ buffer: GPUBuffer, floatOffset: Int = 0, count: Int? = nil) throws -> [Float] {
        let n = count ?? (buffer.floatCount - floatOffset)
        var out = [Float](repeating: 0, count: n)
        if n > 0 { try out.withUnsafeMutableBytes { try download(buffer, offset: 4 * floatOffset, bytes: 4 * n, to: $0.baseAddress!) } }
        return out
    }
    /// Launches kernel `name` of `module` with one thread per item (`threads` of them, in blocks
    /// of 128): the launch shape of every sync-free kernel.
    public func launch(_ name: String, in module: GPUModuleSource, threads: Int, args: [GPUArg]) throws {
        try launch(try function(name, in: module), grid: .cover(threads, block: 128), block: GPUDim(128), args: args)
    }
    /// Copies host floats into `buffer` at `floatOffset`.
    public func upload(_ src: UnsafePointer<Float>, count: Int, to buffer: GPUBuffer, floatOffset: Int = 0) throws {
        try upload(UnsafeRawPointer(src), bytes: 4 * count, to: buffer, offset: 4 * floatOffset)
    }
}

/// Opens the GPU a command asked for.
public enum GPUDevices {
    /// Device 0 through CUDA; throws a `CUDAError` naming what is missing.
    public static func cuda() throws -> CUDADevice { try CUDADevice() }
}

/// Bump allocation of short-lived device buffers from a few large chunks, so a pass makes
/// no allocator calls after its first use; `reset()` recycles everything handed out.
public final class GPUArena {
    public let device: GPUDevice
    private var chunks: [GPUBuffer] = []
    private var chunk = 0, offset = 0
    private let chunkBytes: Int

    public init(device: GPUDevice, chunkBytes: Int = 64 << 20) { self.device = device; self.chunkBytes = chunkBytes }

    /// Forgets every buffer handed out since the last reset (they must no longer be used).
    public func reset() { chunk = 0; offset = 0 }

    /// `count` floats of uninitialised device memory, valid until the next `reset()`.
    public func floats(_ count: Int) throws -> GPUBuffer {
        let exact = max(1, count) * 4, bytes = (exact + 255) / 256 * 256
        while true {
            if chunk == chunks.count { chunks.append(try device.allocate(bytes: max(bytes, chunkBytes))) }
            let c = chunks[chunk]
            if offset + bytes <= c.bytes {
                let view = GPUBuffer(device: device, address: c.address + UInt64(offset), bytes: exact) { [c] _ in _ = c }
                offset += bytes
                return view
            }
            // A request larger than the remaining chunks: place it in a fresh chunk of its own size.
            if bytes > c.bytes && chunk == chunks.count - 1 { chunks.append(try device.allocate(bytes: bytes)) }
            chunk += 1; offset = 0
        }
    }

    /// `count` zero-filled floats.
    public func zeros(_ count: Int) throws -> GPUBuffer {
        let b = try floats(count)
        try device.zero(b, offset: 0, bytes: b.bytes)
        return b
    }
}
