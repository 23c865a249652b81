import OuroEngine
import OuroModel
import OuroTestSupport
import Testing
import OuroQuant

/// method.md §4.5: "a batch of n images gives exactly the results of n single-image runs". The
/// quantized engines detect per sample and run their linears on integers; the float GEMMs they
/// leave to the model (patch embedding, head) run one image at a time, because OpenBLAS can
/// round a row differently with the number of rows in the call (without that, this test fails
/// here on the AMD EPYC Zen 4 of docs/results.md). So an image's logits do not depend on how
/// the images are chunked, which lets callers choose the chunk for speed.
@Suite("Batch independence of the quantized engines") struct BatchIndependenceTests {
    /// The embedded model's shape (D 64, 50 tokens), two layers, calibrated on noise.
    static func model() throws -> (QuantizedModel, Tensor) {
        let c = VisionMambaConfig(imageSize: 28, channels: 1, patchSize: 4, embedDim: 64, depth: 2, numClasses: 10)
        let m = RandomModel.make(c, seed: 11)
        var rng = Xoshiro256StarStar(seed: 12)
        let calib = Tensor(shape: [8, 1, 28, 28], data: rng.normals(8 * 784))
        let cfg = QuantConfig(setting: .w4a4, method: .ouromamba)
        let points = try Calibrator(model: m, config: cfg, threads: 2).calibrate(images: calib).points
        let q = try QuantizedModel.assemble(model: m, quant: cfg, points: points,
                                            provenance: QuantProvenance(calibSource: "noise", calibCount: 8, calibSHA256: "", modelSHA256: ""))
        return (q, Tensor(shape: [24, 1, 28, 28], data: rng.normals(24 * 784)))
    }

    @Test(arguments: [QuantEngine.int, .sim])
    func logitsDoNotDependOnTheChunk(engine: QuantEngine) throws {
        let (q, x) = try Self.model()
        let whole = try q.logits(x, engine: engine, batchSize: 24, threads: 2)
        for size in [1, 5, 16] {
            let part = try q.logits(x, engine: engine, batchSize: size, threads: 2)
            #expect(part.logits.data.map(\.bitPattern) == whole.logits.data.map(\.bitPattern), "\(engine): chunks of \(size)")
            #expect(part.report == whole.report)
        }
    }
}
