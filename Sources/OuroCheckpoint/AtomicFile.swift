import OuroSupport

/// Writes whole files atomically and durably (`DurableWrite`), reporting failures as
/// `CheckpointError`s that name the file.
public enum AtomicFile {
    /// Atomically replaces (or creates) `path` with `bytes`.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        do { try DurableWrite.replace(path, with: bytes) }
        catch { throw CheckpointError(file: path, "\(error)") }
    }
}
