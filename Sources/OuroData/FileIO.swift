import OuroSupport
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Whole-file reads and atomic whole-file writes with errno in the messages.
public enum FileIO {
    /// The bytes of the file at `path`.
    public static func contents(of path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DataError(baseName(path), "cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DataError(baseName(path), "cannot stat \(path): \(errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw DataError(baseName(path), "\(path) is not a regular file")
        }
        let size = Int(st.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        try bytes.withUnsafeMutableBytes { buf in
            while done < size {
                let n = read(fd, buf.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DataError(baseName(path), "read failed on \(path): \(errnoText())")
                }
                if n == 0 { break }  // the file shrank while reading
                done += n
            }
        }
        guard done == size else {
            throw DataError(baseName(path), "\(path) changed while reading: got \(done) of \(size) bytes")
        }
        return bytes
    }

    /// True when `path` is a regular file this process may read.
    public static func isReadableFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, R_OK) == 0
    }

    /// Writes `bytes` to `path` atomically and durably (`DurableWrite`): readers see the old file
    /// or the new one, never a partial file.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        do { try DurableWrite.replace(path, with: bytes) }
        catch { throw DataError(baseName(path), "\(error)") }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
