import Foundation
import Testing
import OuroTestSupport

/// A `generate` rerun on a finished job directory takes every shard from the journal: the same
/// samples, and a throughput that counts only what this run computed.
@Suite(.serialized, .enabled(if: CLIPrerequisites.enabled, "\(CLIPrerequisites.missingReason)"))
struct GenerateResumeTests {
    @Test func aResumedRunReportsOnlyWhatItComputed() throws {
        let (_, micro) = try CLIPrerequisites.require()
        let dir = NSTemporaryDirectory() + "ouro-genresume-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func generate(_ out: String) throws -> [String: Any] {
            let r = try CLI.run(["generate", "--model", micro, "--count", "16", "--iterations", "2", "--workers", "2", "--blocks-per-task", "1",
                                 "--job-dir", "\(dir)/job", "--out", "\(dir)/\(out)", "--json"])
            #expect(r.status == 0, "generate: \(r.stderr.suffix(300))")
            return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        }
        let first = try generate("a"), again = try generate("b")
        #expect(first["resumed_shards"] == nil)
        #expect((first["sample_iterations_per_s"] as? Double ?? 0) > 0)
        #expect(again["resumed_shards"] as? Int == 2, "\(again)")
        #expect(again["sample_iterations_per_s"] as? Double == 0, "\(again)")
        let same = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a/samples.safetensors"))
            == Data(contentsOf: URL(fileURLWithPath: "\(dir)/b/samples.safetensors"))
        #expect(same, "the resumed run wrote different samples")
    }
}
