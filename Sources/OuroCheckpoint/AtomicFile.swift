import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes whole files atomically: the bytes go to a temporary file in the destination folder,
/// are flushed to disk, and only then is the file renamed over the final name. Readers see
/// either the old file or the complete new one, never a partial file.
public enum AtomicFile {
    /// Atomically replaces (or creates) `path` with `bytes`.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt64.random(in: 0 ... .max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError(file: path, "cannot create temporary file \(tmp): \(String(cString: strerror(errno)))")
        }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        var written = 0
        let failure: String? = bytes.withUnsafeBytes { p -> String? in
            while written < p.count {
                let r = systemWrite(fd, p.baseAddress! + written, p.count - written)
                if r < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                written += r
            }
            return fsync(fd) == 0 ? nil : String(cString: strerror(errno))
        }
        let closed = close(fd) == 0
        if let failure { throw CheckpointError(file: path, "writing \(tmp) failed: \(failure)") }
        guard closed else { throw CheckpointError(file: path, "closing \(tmp) failed") }
        guard rename(tmp, path) == 0 else {
            throw CheckpointError(file: path, "renaming \(tmp) into place failed: \(String(cString: strerror(errno)))")
        }
        ok = true
    }

    private static func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, p, n)
        #else
        return Darwin.write(fd, p, n)
        #endif
    }
}
