import Foundation
import Testing
@testable import OuroCluster
import OuroPipeline

extension ProcessJobTests {
    /// 1, 2 and 3 local workers (and two shard sizes) give the same samples and artifact bytes
    /// as the in-process path with the workers' thread count.
    @Test func identicalBytesForAnyWorkerCount() throws {
        let (bin, model) = try Binary.require()
        let ref = try #require(Jobs.reference, "in-process reference run failed")
        #expect(ref.artifact.count > 1000 && ref.samples.count > 1000)
        let dir = Jobs.tempDirectory("ident")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (n, perTask) in [(1, 2), (2, 1), (3, 1)] {
            let c = try Child("q\(n)", bin, ["quantize", "--model", model] + Jobs.quantizeArgs
                              + ["--out", "c\(n)/q.safetensors", "--workers", "\(n)", "--blocks-per-task", "\(perTask)"], in: dir)
            #expect(c.wait(timeout: 60) == 0, "quantize --workers \(n) failed: \(c.stderr.suffix(2000))")
            #expect(Jobs.bytes(dir.appendingPathComponent("c\(n)/q.safetensors")) == ref.artifact, "artifact differs with \(n) workers")
            #expect(Jobs.bytes(dir.appendingPathComponent("c\(n)/samples/samples.safetensors")) == ref.samples,
                    "samples differ with \(n) workers")
            if n == 2 {
                // Progress names phases and shards and shows each worker's state.
                #expect(c.stderr.contains("[calib-pass2] shards 2/2"))
                #expect(c.stderr.contains("local-1"))
            }
        }
        let g = try Child("gen", bin, ["generate", "--model", model, "--count", "16", "--iterations", "2", "--out", "g",
                                       "--workers", "2"], in: dir)
        #expect(g.wait(timeout: 60) == 0, "generate --workers 2 failed: \(g.stderr.suffix(2000))")
        #expect(Jobs.bytes(dir.appendingPathComponent("g/samples.safetensors")) == ref.samples)
    }
}
