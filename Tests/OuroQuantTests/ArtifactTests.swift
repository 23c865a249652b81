import OuroSupport
import Foundation
import OuroCheckpoint
import OuroEngine
import OuroModel
import OuroTestSupport
import Testing
import OuroQuant

@Suite("Quantized artifact", .enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)")) struct ArtifactTests {
    static func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ouroquant-\(getpid())-\(name).safetensors").path
    }

    @Test(arguments: [QuantMethod.ouromamba, .staticOutlierList, .staticMinmax])
    func roundTrip(method: QuantMethod) throws {
        let f = try QuantFixture.load()
        let (q, _) = try f.quantize(.w4a4, method)
        let path = Self.tempPath("rt-\(method.rawValue)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try QuantArtifact.write(q, to: path)
        let back = try QuantArtifact.read(path: path)
        #expect(try QuantArtifact.encode(back) == (try QuantArtifact.encode(q)))
        for engine in QuantEngine.allCases {
            let a = try q.logits(f.input, engine: engine, threads: 2).logits
            let b = try back.logits(f.input, engine: engine, threads: 2).logits
            #expect(a.data == b.data, "\(method) \(engine) logits bit-identical after reload")
        }
    }

    /// Rewrites an artifact with `edit` applied to its tensors/metadata (checksum recomputed
    /// when `fixChecksum`).
    static func rewrite(_ src: String, _ dst: String, fixChecksum: Bool = true,
                        edit: (inout [(String, StoredTensor)], inout [String: String]) throws -> Void) throws {
        let file = try SafeTensorsFile.read(path: src)
        var ts = try file.allTensors().map { ($0.name, $0.tensor) }
        var meta = file.metadata
        try edit(&ts, &meta)
        if fixChecksum {
            var h = SHA256()
            for (_, t) in ts { h.update(t.bytes) }
            meta["tensors_sha256"] = h.finalizeHex()
        }
        var w = SafeTensorsWriter(metadata: meta)
        for (n, t) in ts { try w.add(n, tensor: t) }
        try w.write(to: dst)
    }

    static func rejects(_ path: String, mentioning: String) -> Bool {
        do { _ = try QuantArtifact.read(path: path); return false }
        catch { return "\(error)".contains(mentioning) }
    }

    @Test("corrupt or mismatched artifacts are rejected with the key that is wrong")
    func rejection() throws {
        let f = try QuantFixture.load()
        let (q, _) = try f.quantize(.w4a4, .ouromamba)
        let good = Self.tempPath("good"), bad = Self.tempPath("bad")
        defer { try? FileManager.default.removeItem(atPath: good); try? FileManager.default.removeItem(atPath: bad) }
        try QuantArtifact.write(q, to: good)
        // A flipped data byte: checksum.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        bytes[bytes.count - 3] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: bad))
        #expect(Self.rejects(bad, mentioning: "tensors_sha256"))
        // Truncated.
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: bad))
        #expect(Self.rejects(bad, mentioning: bad))
        // A plain FP checkpoint is not an artifact.
        try f.model.save(to: bad)
        #expect(Self.rejects(bad, mentioning: "format"))
        // Missing point scales (checksum consistent): coverage names the key.
        try Self.rewrite(good, bad) { ts, _ in ts.removeAll { $0.0 == "quant.layer1.delta.b.S" } }
        #expect(Self.rejects(bad, mentioning: "quant.layer1.delta.b.S"))
        // Wrong length of a scale vector.
        try Self.rewrite(good, bad) { ts, _ in
            let i = ts.firstIndex { $0.0 == "quant.layer0.in.S" }!
            ts[i].1 = try StoredTensor(dtype: .f32, shape: [3], bytes: [UInt8](repeating: 0, count: 12))
        }
        #expect(Self.rejects(bad, mentioning: "quant.layer0.in.S"))
        // A non-positive row scale.
        try Self.rewrite(good, bad) { ts, _ in
            let i = ts.firstIndex { $0.0 == "layers.0.mixer.out_proj.wscale" }!
            var b = ts[i].1.bytes
            b[3] = 0xBF // sign bit set
            ts[i].1 = try StoredTensor(dtype: .f32, shape: ts[i].1.shape, bytes: b)
        }
        #expect(Self.rejects(bad, mentioning: "out_proj.wscale"))
        // Metadata that does not match the tensors (8-bit weights claimed for 4-bit data).
        try Self.rewrite(good, bad) { _, meta in meta["w_bits"] = "8" }
        #expect(Self.rejects(bad, mentioning: "qweight"))
        // Unknown format version; unexpected extra tensor.
        try Self.rewrite(good, bad) { _, meta in meta["format_version"] = "99" }
        #expect(Self.rejects(bad, mentioning: "format_version"))
        try Self.rewrite(good, bad) { ts, _ in ts.append(("surprise", try StoredTensor(dtype: .f32, shape: [1], bytes: [0, 0, 0, 0]))) }
        #expect(Self.rejects(bad, mentioning: "surprise"))
        // The good file still loads.
        _ = try QuantArtifact.read(path: good)
    }

    @Test("assembly fails the coverage check when a point or layer is missing")
    func coverage() throws {
        let f = try QuantFixture.load()
        let (q, _) = try f.quantize(.w4a4, .staticPerToken)
        let prov = q.provenance
        #expect(throws: QuantError.self) {
            _ = try QuantizedModel(config: q.config, quant: q.quant, fp: q.fp, layers: q.layers, points: Array(q.points.dropLast()), provenance: prov)
        }
        #expect(throws: QuantError.self) {
            _ = try QuantizedModel(config: q.config, quant: q.quant, fp: q.fp, layers: Array(q.layers.dropLast()), points: q.points, provenance: prov)
        }
        var pts = q.points
        pts[5].scales[7] = 0
        #expect(throws: QuantError.self) {
            _ = try QuantizedModel(config: q.config, quant: q.quant, fp: q.fp, layers: q.layers, points: pts, provenance: prov)
        }
    }
}
