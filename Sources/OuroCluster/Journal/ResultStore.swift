import OuroSupport
import Foundation

/// A content-addressed store of task results: `results/<sha256 of the file>.omqr`.
///
/// File layout: `OMQR/1\n`, a little-endian UInt64 header length, a JSON header
/// (task id, phase, attempt, checksum, worker, metadata, frame sizes), then the frames.
/// Files are written to a temporary name, fsync'ed and renamed, so a file under its final
/// name is always complete; reading re-hashes the file and re-checks the result checksum.
struct ResultStore {
    static let magic = Array("OMQR/1\n".utf8)
    let directory: URL

    init(directory: URL) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ClusterError.journal("cannot create \(directory.path): \(error)")
        }
    }

    func url(for hash: String) -> URL { directory.appendingPathComponent("\(hash).omqr") }

    /// Stores `result` durably and returns its content hash.
    func write(_ result: TaskResult) throws -> String {
        let header: JSONValue = .object([
            "task_id": .string(result.taskId), "phase": .string(result.phase), "attempt": .int(result.attempt),
            "checksum": .string(result.checksum), "worker_id": .string(result.workerId), "meta": .object(result.metadata),
            "frame_sizes": .array(result.frames.map { .int($0.count) }),
        ])
        let headerData = try JSONCoding.encode(header)
        var prefix = ResultStore.magic
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { prefix += $0 }
        prefix += headerData
        var hash = SHA256()
        hash.update(prefix)
        let tmp = directory.appendingPathComponent(".tmp-\(UUID().uuidString)").path
        let file = try DurableFile.open(tmp, append: false)
        do {
            try prefix.withUnsafeBytes { try file.write($0) }
            for f in result.frames {
                try f.withUnsafeBytes { try file.write($0) }
                hash.update(f)
            }
            try file.sync()
            file.close()
        } catch {
            file.close()
            unlink(tmp)
            throw error
        }
        let key = hash.finalizeHex()
        try DurableFile.rename(tmp, url(for: key).path)
        DurableFile.syncDirectory(directory.path)
        return key
    }

    /// Reads and verifies the result stored under `hash`; nil when missing, truncated or altered.
    func read(_ hash: String) -> TaskResult? {
        guard SHA256.isHexDigest(hash),
              let data = try? Data(contentsOf: url(for: hash), options: .alwaysMapped) else { return nil }
        let bytes = [UInt8](data)
        guard SHA256.hex(of: bytes) == hash else { return nil }
        let m = ResultStore.magic.count
        guard bytes.count >= m + 8, Array(bytes[0..<m]) == ResultStore.magic else { return nil }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[m + i]) << (8 * UInt64(i)) }
        guard length <= UInt64(bytes.count - m - 8) else { return nil }
        let start = m + 8
        let end = start + Int(length)
        guard let header = try? JSONCoding.decode(JSONValue.self, from: Data(bytes[start..<end])).objectValue,
              let taskId = header["task_id"]?.stringValue, let phase = header["phase"]?.stringValue,
              let attempt = header["attempt"]?.intValue, let checksum = header["checksum"]?.stringValue,
              let sizes = header["frame_sizes"]?.arrayValue?.compactMap(\.intValue) else { return nil }
        var frames: [Frame] = []
        var offset = end
        for s in sizes {
            guard s >= 0, s <= bytes.count - offset else { return nil }
            frames.append(bytes.withUnsafeBytes { Frame(copying: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + s])) })
            offset += s
        }
        guard offset == bytes.count else { return nil }
        let result = TaskResult(taskId: taskId, phase: phase, attempt: attempt, checksum: checksum,
                                metadata: header["meta"]?.objectValue ?? [:], frames: frames,
                                workerId: header["worker_id"]?.stringValue ?? "")
        return result.isIntact ? result : nil
    }
}
