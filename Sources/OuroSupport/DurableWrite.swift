#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error from a file-system call, with the path and `strerror` text.
public struct FileError: Error, CustomStringConvertible, Sendable {
    /// What failed ("open", "write", "fsync", "rename", …).
    public let operation: String
    /// The path involved.
    public let path: String
    /// errno.
    public let code: Int32

    public init(operation: String, path: String, code: Int32) {
        self.operation = operation; self.path = path; self.code = code
    }

    /// Human-readable text.
    public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}

/// Whole-file replacement that is atomic and durable: the bytes go to a temporary file in the
/// destination folder, are flushed to disk, the file is renamed over the final name, and the
/// folder is flushed so that the rename survives a crash. Readers see the old file or the
/// complete new one, never a partial file.
public enum DurableWrite {
    /// Atomically replaces (or creates) `path` with `bytes`.
    public static func replace(_ path: String, with bytes: UnsafeRawBufferPointer) throws {
        let dir = folder(of: path)
        let base = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        let tmp = (dir == "/" ? "" : dir) + "/.\(base).tmp-\(getpid())-\(UInt64.random(in: 0 ... .max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(operation: "create temporary file", path: tmp, code: errno) }
        var renamed = false
        defer { if !renamed { unlink(tmp) } }
        do {
            defer { close(fd) }
            var done = 0
            while done < bytes.count {
                let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileError(operation: "write", path: tmp, code: errno)
                }
                done += n
            }
            guard fsync(fd) == 0 else { throw FileError(operation: "fsync", path: tmp, code: errno) }
        }
        guard rename(tmp, path) == 0 else { throw FileError(operation: "rename into place", path: "\(tmp) -> \(path)", code: errno) }
        renamed = true
        syncFolder(dir)
    }

    /// Atomically replaces (or creates) `path` with `bytes`.
    public static func replace(_ path: String, with bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try replace(path, with: $0) }
    }

    /// Flushes a folder so that renames inside it are durable (best effort: some file systems
    /// cannot open folders for reading).
    public static func syncFolder(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = close(fd)
    }

    /// The folder of `path` ("." for a bare name, "/" for a file at the root).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
