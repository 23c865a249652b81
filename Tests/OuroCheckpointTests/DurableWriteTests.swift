import Foundation
import OuroCheckpoint
import OuroSupport
import Testing

/// The one atomic, durable file writer (OuroSupport) behind checkpoints, artifacts, samples,
/// reports, PNGs and the cluster journal.
@Suite struct DurableWriteTests {
    private func scratchFolder() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("durable-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    @Test func replacesWholeFilesAndLeavesNoTemporaries() throws {
        let dir = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("a.bin").path
        try DurableWrite.replace(path, with: [1, 2, 3])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([1, 2, 3]))
        try AtomicFile.write(Array(repeating: 7, count: 100_000), to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(repeating: 7, count: 100_000))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a.bin"])
    }

    @Test func failuresNameThePathAndWriteNothing() throws {
        let dir = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("no/such/folder/x.bin").path
        #expect { try DurableWrite.replace(missing, with: [1]) } throws: { e in
            (e as? FileError).map { $0.path.contains("no/such/folder") && $0.code == ENOENT } ?? false
        }
        // The checkpoint wrapper reports the destination file.
        #expect { try AtomicFile.write([1], to: missing) } throws: { e in "\(e)".contains("x.bin") }
        // A destination that is a folder: the rename fails and the temporary file is removed.
        let folder = dir.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("inner"), withIntermediateDirectories: false)
        #expect(throws: FileError.self) { try DurableWrite.replace(folder.path, with: [1]) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["taken"])
    }
}
