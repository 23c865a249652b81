import Foundation

/// Bounds-checked little-endian reads over a whole file's bytes. Every read that would
/// leave the file throws a `CheckpointError` naming the file and what was being read.
struct ByteView {
    let data: Data
    let file: String

    /// Maps (or reads) the file at `path`.
    static func open(_ path: String) throws -> ByteView {
        let url = URL(fileURLWithPath: path)
        do {
            let d = try Data(contentsOf: url, options: .alwaysMapped)
            // Rebase so that indices start at 0 whatever Data chose.
            return ByteView(data: d.startIndex == 0 ? d : Data(d), file: path)
        } catch {
            throw CheckpointError(file: path, "cannot read file: \(error.localizedDescription)")
        }
    }

    var count: Int { data.count }

    /// Throws unless `offset ..< offset + length` lies inside the file.
    func check(_ offset: Int, _ length: Int, _ what: String) throws {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else {
            throw CheckpointError(file: file, key: what,
                                  "needs bytes \(offset) ..< \(offset &+ length) but the file has \(count) bytes (truncated or corrupt)")
        }
    }

    func u16(_ offset: Int, _ what: String) throws -> UInt16 { try load(UInt16.self, offset, what) }
    func u32(_ offset: Int, _ what: String) throws -> UInt32 { try load(UInt32.self, offset, what) }
    func u64(_ offset: Int, _ what: String) throws -> UInt64 { try load(UInt64.self, offset, what) }

    func load<T: FixedWidthInteger>(_: T.Type, _ offset: Int, _ what: String) throws -> T {
        try check(offset, MemoryLayout<T>.size, what)
        return data.withUnsafeBytes { $0.loadLE(T.self, offset) }
    }

    /// A copy of `length` bytes at `offset`.
    func bytes(_ offset: Int, _ length: Int, _ what: String) throws -> [UInt8] {
        try check(offset, length, what)
        return data.withUnsafeBytes { [UInt8]($0[offset ..< offset + length]) }
    }

    /// Calls `body` with the raw bytes at `offset ..< offset + length` (no copy).
    func withBytes<R>(_ offset: Int, _ length: Int, _ what: String,
                      _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try check(offset, length, what)
        return try data.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[offset ..< offset + length])) }
    }
}
