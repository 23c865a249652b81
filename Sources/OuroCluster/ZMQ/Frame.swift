import CZMQ
import Foundation

/// The immutable bytes behind a `Frame`, and whoever owns them.
final class FrameStorage: Sendable {
    enum Owner {
        case allocated(UnsafeMutableRawPointer)
        case message(UnsafeMutablePointer<zmq_msg_t>)
        case external(AnyObject)
        case none
    }

    /// Immutable once created, so it may be read from any thread.
    nonisolated(unsafe) let base: UnsafeRawPointer?
    let count: Int
    /// Only released in `deinit`.
    nonisolated(unsafe) private let owner: Owner

    init(base: UnsafeRawPointer?, count: Int, owner: Owner) {
        self.base = base
        self.count = count
        self.owner = owner
    }

    /// Copies `bytes` into a fresh allocation.
    convenience init(copying bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0, let src = bytes.baseAddress else {
            self.init(base: nil, count: 0, owner: .none)
            return
        }
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 16)
        p.copyMemory(from: src, byteCount: bytes.count)
        self.init(base: UnsafeRawPointer(p), count: bytes.count, owner: .allocated(p))
    }

    deinit {
        switch owner {
        case .allocated(let p): p.deallocate()
        case .message(let m):
            zmq_msg_close(m)
            m.deallocate()
        case .external, .none: break
        }
    }
}

/// One message part: an immutable, reference-counted byte buffer.
///
/// Frames never copy on send: large frames are handed to libzmq with `zmq_msg_init_data`
/// and a free callback that keeps the storage alive until libzmq is done with it.
/// Received frames keep the libzmq message itself, so receiving does not copy either.
public struct Frame: Sendable, Equatable, CustomStringConvertible {
    let storage: FrameStorage

    init(storage: FrameStorage) { self.storage = storage }

    /// An empty frame.
    public init() { storage = FrameStorage(base: nil, count: 0, owner: .none) }

    /// A frame holding a copy of `bytes`.
    public init(_ bytes: [UInt8]) {
        storage = bytes.withUnsafeBytes { FrameStorage(copying: $0) }
    }

    /// A frame holding a copy of `data`.
    public init(_ data: Data) {
        storage = data.withUnsafeBytes { FrameStorage(copying: $0) }
    }

    /// A frame holding the UTF-8 bytes of `string`.
    public init(_ string: String) {
        self.init(Array(string.utf8))
    }

    /// A frame holding a copy of the raw memory of `values` (little-endian on every supported host).
    public init<T: BitwiseCopyable>(copyingElementsOf values: [T]) {
        storage = values.withUnsafeBytes { FrameStorage(copying: $0) }
    }

    /// A frame holding a copy of `bytes`.
    public init(copying bytes: UnsafeRawBufferPointer) {
        storage = FrameStorage(copying: bytes)
    }

    /// A frame that borrows `count` bytes at `pointer` without copying. `owner` is retained
    /// for as long as the frame (or libzmq, while sending it) uses the bytes; the caller
    /// promises the memory stays valid and unchanged while `owner` is alive.
    public init(borrowing pointer: UnsafeRawPointer, count: Int, owner: AnyObject) {
        precondition(count >= 0, "negative frame size")
        storage = FrameStorage(base: count > 0 ? pointer : nil, count: count, owner: .external(owner))
    }

    /// Number of bytes.
    public var count: Int { storage.count }

    /// True when the frame has no bytes.
    public var isEmpty: Bool { storage.count == 0 }

    /// Calls `body` with the frame's bytes (valid only inside `body`).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) {
            try body(UnsafeRawBufferPointer(start: storage.base, count: storage.count))
        }
    }

    /// A copy of the bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// A copy of the bytes as `Data`.
    public var data: Data { withUnsafeBytes { Data($0) } }

    /// The bytes decoded as UTF-8, or nil when they are not valid UTF-8.
    public var string: String? {
        withUnsafeBytes { String(validating: $0.bindMemory(to: UInt8.self), as: UTF8.self) }
    }

    /// The bytes reinterpreted as an array of `T`, or nil when the size is not a multiple of `T`'s stride.
    public func elements<T: BitwiseCopyable>(as type: T.Type) -> [T]? {
        let stride = MemoryLayout<T>.stride
        guard stride > 0, count % stride == 0 else { return nil }
        return withUnsafeBytes { raw in
            [T](unsafeUninitializedCapacity: count / stride) { buf, n in
                if count > 0 {
                    UnsafeMutableRawBufferPointer(buf).copyMemory(from: raw)
                }
                n = count / stride
            }
        }
    }

    /// Byte-wise equality.
    public static func == (a: Frame, b: Frame) -> Bool {
        guard a.count == b.count else { return false }
        if a.storage === b.storage || a.count == 0 { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                guard let x = pa.baseAddress, let y = pb.baseAddress else { return false }
                return memcmp(x, y, a.count) == 0
            }
        }
    }

    /// A short description: size and, for short printable frames, the text.
    public var description: String {
        if count <= 64, let s = string, s.allSatisfy({ !$0.isNewline && $0.isASCII }) {
            return "Frame(\(count) B: \"\(s)\")"
        }
        return "Frame(\(count) B)"
    }
}
