import Foundation
import OuroSupport
#if canImport(Glibc)
import Glibc
#endif

/// POSIX file writes with fsync and atomic rename: the building blocks of the journal.
struct DurableFile {
    let fd: Int32
    let path: String

    /// Opens `path` for writing (`append` keeps the content; otherwise the file is created or truncated).
    static func open(_ path: String, append: Bool) throws -> DurableFile {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
        let fd = Glibc.open(path, flags, 0o644)
        guard fd >= 0 else { throw FileError(operation: "open", path: path, code: errno) }
        return DurableFile(fd: fd, path: path)
    }

    /// Writes all of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "write", path: path, code: errno)
            }
            p += n
            left -= n
        }
    }

    func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }

    /// Flushes to stable storage.
    func sync() throws {
        if fsync(fd) != 0 { throw FileError(operation: "fsync", path: path, code: errno) }
    }

    func close() { _ = Glibc.close(fd) }

    /// fsyncs a directory so that renames inside it are durable.
    static func syncDirectory(_ path: String) { DurableWrite.syncFolder(path) }

    /// Renames `from` to `to` (atomic on one file system).
    static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 { throw FileError(operation: "rename", path: "\(from) -> \(to)", code: errno) }
    }

    /// Atomically and durably replaces `path` with `data` (`DurableWrite`).
    static func writeAtomically(_ data: Data, to path: String) throws {
        try data.withUnsafeBytes { try DurableWrite.replace(path, with: $0) }
    }
}
