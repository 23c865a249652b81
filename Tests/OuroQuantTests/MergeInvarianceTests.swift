import OuroEngine
import OuroModel
import OuroTestSupport
import Testing
import OuroQuant

/// Any split of the calibration blocks, merged in any order (also through encode/decode),
/// gives bit-identical statistics, scales and artifact bytes.
@Suite("Calibration merge invariance", .enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)")) struct MergeInvarianceTests {
    static func noise(_ n: Int, seed: UInt64) -> Tensor {
        var rng = Xoshiro256StarStar(seed: seed)
        return Tensor(shape: [n, 1, 28, 28], data: rng.normals(n * 784))
    }

    @Test(arguments: QuantMethod.allCases)
    func splits(method: QuantMethod) throws {
        let f = try QuantFixture.load()
        let images = Self.noise(32, seed: 11)   // 4 blocks of 8
        let cfg = QuantConfig(setting: .w4a4, method: method)
        let cal = try Calibrator(model: f.model, config: cfg, threads: 2)
        let reference = try cal.calibrate(images: images)
        let prov = QuantProvenance(calibSource: "noise:32", calibCount: 32, calibSHA256: "x", modelSHA256: "y")
        let refBytes = try QuantArtifact.encode(try QuantizedModel.assemble(model: f.model, quant: cfg, points: reference.points, provenance: prov))
        func block(_ k: Int) -> Tensor { images.slice(outer: 8 * k, count: 8) }
        let p1 = try (0..<4).map { try cal.pass1(block: $0, images: block($0)) }
        for split in [[[3], [0, 2], [1]], [[2, 3], [0, 1]], [[1], [3], [2], [0]]] {
            // Each shard merges its own blocks; shards are merged in the listed order, via encode/decode.
            func shard<T>(_ parts: [T], _ merge: (inout T, T) throws -> Void, _ ids: [Int]) rethrows -> T {
                var s = parts[ids[0]]
                for k in ids.dropFirst() { try merge(&s, parts[k]) }
                return s
            }
            var m1: CalibrationPass1? = nil
            for ids in split {
                let s = try CalibrationPass1.decode(shard(p1, { try $0.merge($1) }, ids).encode(), source: "shard")
                if m1 == nil { m1 = s } else { try m1!.merge(s) }
            }
            #expect(m1! == reference.pass1, "\(method) pass 1 split \(split)")
            let summary = try Pass1Summary.decode(try cal.summary(m1!, blockCount: 4).encode(), source: "summary")
            #expect(summary == reference.summary)
            let p2 = try (0..<4).map { try cal.pass2(block: $0, images: block($0), summary: summary) }
            var m2: CalibrationPass2? = nil
            for ids in split.reversed() {
                let s = try CalibrationPass2.decode(shard(p2, { try $0.merge($1) }, ids).encode(), source: "shard")
                if m2 == nil { m2 = s } else { try m2!.merge(s) }
            }
            let points = try cal.finalize(summary: summary, pass2: m2, blockCount: 4)
            #expect(points == reference.points, "\(method) points split \(split)")
            let bytes = try QuantArtifact.encode(try QuantizedModel.assemble(model: f.model, quant: cfg, points: points, provenance: prov))
            #expect(bytes == refBytes, "\(method) artifact bytes split \(split)")
        }
        // A duplicated or missing block is fatal.
        var dup = p1[0]
        #expect(throws: QuantError.self) { try dup.merge(p1[0]) }
        var partial = p1[0]
        try partial.merge(p1[2])
        #expect(throws: QuantError.self) { _ = try cal.summary(partial, blockCount: 4) }
    }

    /// Outlier lists and rounding decisions are per sample; only the FP engine's BLAS may round
    /// differently with another batch size, so lists must match exactly and logits to float noise.
    @Test("a sample's outlier lists and logits do not depend on its batch")
    func batchIndependence() throws {
        let f = try QuantFixture.load()
        let (q, _) = try f.quantize(.w4a4, .ouromamba)
        func run(_ x: Tensor, offset: Int) throws -> ([String: [Int]], [Float]) {
            var lists: [String: [Int]] = [:]
            let h = try q.hooks(engine: .sim, threads: 1)
            h.observer = { i, b, t, l in lists["\(i).\(b + offset).\(t)"] = l }
            let y = try q.simulatedModel().logits(x, batchSize: x.shape[0], hooks: h, threads: 1)
            return (lists, y.data)
        }
        let (all, yAll) = try run(f.input, offset: 0)
        for b in 0..<3 {
            let (one, y) = try run(f.input.slice(outer: b, count: 1), offset: b)
            #expect(one == all.filter { $0.key.split(separator: ".")[1] == "\(b)" }, "image \(b) lists")
            #expect(relativeMaxError(y, Array(yAll[(b * 10)..<((b + 1) * 10)])) <= 1e-5, "image \(b) logits")
        }
    }
}
