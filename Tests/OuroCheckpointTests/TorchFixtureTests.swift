import Foundation
import OuroCheckpoint
import OuroTestSupport
import Testing

@Suite(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)")) struct TorchFixtureTests {
    /// Official per-layer state-dict order (vim-architecture.md §3.3).
    static let layerKeys = ["A_log", "D", "A_b_log", "D_b", "in_proj.weight", "conv1d.weight", "conv1d.bias",
                            "x_proj.weight", "dt_proj.weight", "dt_proj.bias", "conv1d_b.weight", "conv1d_b.bias",
                            "x_proj_b.weight", "dt_proj_b.weight", "dt_proj_b.bias", "out_proj.weight"]

    static func officialOrder(depth: Int) -> [String] {
        var k = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", "head.weight", "head.bias"]
        for l in 0..<depth {
            k += layerKeys.map { "layers.\(l).mixer.\($0)" }
            k.append("layers.\(l).norm.weight")
        }
        return k + ["norm_f.weight"]
    }

    @Test func microModelMatchesSafetensorsBitForBit() throws {
        let pth = try #require(Fixtures.path("vim-micro.pth")), st = try #require(Fixtures.path("vim-micro.safetensors"))
        let ckpt = try TorchCheckpoint.read(path: pth)
        #expect(ckpt.topLevelKeys == ["model", "optimizer", "lr_scheduler", "epoch", "model_ema", "scaler", "args"])
        let model = try ckpt.stateDict()
        #expect(model.count == 41)
        #expect(model.map(\.name) == Self.officialOrder(depth: 2))

        let ref = try SafeTensorsFile.read(path: st)
        #expect(ref.names.count == 41)
        // The safetensors file lists names sorted; the pickle keeps the OrderedDict order.
        #expect(Set(ref.names) == Set(model.map(\.name)))
        var params = 0
        for (name, t) in model {
            let r = try ref.tensor(name)
            #expect(t.dtype == .f32)
            #expect(t.shape == r.shape, "\(name)")
            #expect(t.bytes == r.bytes, "\(name) differs from the safetensors copy")
            params += t.count
        }
        #expect(params == 23_850)
        #expect(model.first { $0.name == "pos_embed" }?.tensor.shape == [1, 50, 32])
        #expect(model.first { $0.name == "layers.0.mixer.x_proj.weight" }?.tensor.shape == [18, 64])
    }

    @Test func microOtherEntriesAreSkippedOrReportedByName() throws {
        let pth = try #require(Fixtures.path("vim-micro.pth"))
        let ckpt = try TorchCheckpoint.read(path: pth)
        // The EMA weights load too (same keys) but are not the model weights.
        let ema = try ckpt.stateDict(key: "model_ema")
        let model = try ckpt.stateDict()
        #expect(ema.map(\.name) == model.map(\.name))
        #expect(zip(ema, model).contains { $0.tensor.bytes != $1.tensor.bytes })
        // args is an argparse.Namespace: asking for it as weights names the global.
        let e = try #require(checkpointError { _ = try ckpt.stateDict(key: "args") })
        #expect(e.description.contains("argparse.Namespace"))
        #expect(checkpointError { _ = try ckpt.stateDict(key: "optimizer") } != nil)
        #expect(checkpointError { _ = try ckpt.stateDict(key: "epoch") } != nil)
        let missing = try #require(checkpointError { _ = try ckpt.stateDict(key: "state_dict") })
        #expect(missing.key == "state_dict")
    }

    @Test func formatDetectionGivesTheSameWeights() throws {
        let pth = try #require(Fixtures.path("vim-micro.pth")), st = try #require(Fixtures.path("vim-micro.safetensors"))
        #expect(try CheckpointReader.format(path: pth) == .torchZip)
        #expect(try CheckpointReader.format(path: st) == .safetensors)
        let a = try CheckpointReader.loadStateDict(path: pth)
        let b = try CheckpointReader.loadStateDict(path: st)
        #expect(b.map(\.name) == b.map(\.name).sorted())
        let byName = Dictionary(uniqueKeysWithValues: b.map { ($0.name, $0.tensor) })
        #expect(a.count == 41 && byName.count == 41)
        for (name, t) in a { #expect(byName[name] == t, "\(name)") }
    }

    @Test func tinyShapeCheckpoint() throws {
        let pth = try #require(Fixtures.path("vim-tiny-shape.pth"))
        let ckpt = try TorchCheckpoint.read(path: pth)
        #expect(ckpt.topLevelKeys == ["model"])
        let sd = try ckpt.stateDict()
        #expect(sd.count == 415)
        #expect(sd.map(\.name) == Self.officialOrder(depth: 24))
        #expect(sd.reduce(0) { $0 + $1.tensor.count } == 7_148_008)
        let out = try #require(sd.first { $0.name == "layers.23.mixer.out_proj.weight" })
        #expect(out.tensor.shape == [192, 384])
        #expect(sd.first { $0.name == "pos_embed" }?.tensor.shape == [1, 197, 192])
        #expect(sd.first { $0.name == "layers.0.mixer.x_proj.weight" }?.tensor.shape == [44, 384])
        // Weights are noised (README): no tensor is constant.
        for (name, t) in sd {
            let v = try t.floats()
            #expect(v.contains { $0 != v[0] }, "\(name) is constant")
        }
    }

    @Test func seededTruncationsOfThePthAllThrow() throws {
        let p = try #require(Fixtures.path("vim-micro.pth"))
        let full = try readBytes(p)
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = TestRNG(state: 77)
        var cuts = [0, 3, 4, 22, full.count - 22, full.count - 1]
        for _ in 0..<194 { cuts.append(rng.below(full.count)) }
        var failures: [Int] = []
        for cut in cuts {
            let path = try writeTemp(Array(full[0..<cut]), dir, "cut.pth")
            if checkpointError({ _ = try CheckpointReader.loadStateDict(path: path) }) == nil { failures.append(cut) }
        }
        #expect(failures.isEmpty, "truncations that loaded without error: \(failures)")
    }

    /// Offset of the central directory (from the classic end record; the fixture is small).
    static func centralDirectory(_ b: [UInt8]) -> Range<Int> {
        let eocd = b.count - 22
        let off = Int(b[eocd + 16]) | Int(b[eocd + 17]) << 8 | Int(b[eocd + 18]) << 16 | Int(b[eocd + 19]) << 24
        return off ..< eocd
    }

    @Test func flippedCentralDirectoryBytesNeverLoadWrongWeights() throws {
        let p = try #require(Fixtures.path("vim-micro.pth"))
        let full = try readBytes(p)
        let good = try TorchCheckpoint.read(path: p).stateDict()
        let cd = Self.centralDirectory(full)
        #expect(Array(full[cd.lowerBound ..< cd.lowerBound + 4]) == [0x50, 0x4B, 0x01, 0x02])
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // Fields that must be rejected when changed: the first entry (data.pkl) signature,
        // method, CRC, both sizes, the name and the local header offset.
        let first = cd.lowerBound
        var mustThrow = [first, first + 10, first + 16, first + 20, first + 24, first + 46, first + 44]
        // And the storage entry data/0 (cls_token): CRC, size and its name digit.
        let data0 = try #require(Self.find(Array("vim-micro/data/0".utf8), in: full, from: first))
        mustThrow += [data0 - 46 + 16, data0 - 46 + 24, data0 + 15]
        for at in mustThrow {
            var bad = full
            bad[at] ^= 0x5A
            let path = try writeTemp(bad, dir, "flip.pth")
            #expect(checkpointError { _ = try TorchCheckpoint.read(path: path).stateDict() } != nil, "flip at \(at)")
        }

        // Any random flip: either a CheckpointError or exactly the original weights.
        var rng = TestRNG(state: 4242)
        var silent = 0
        for _ in 0..<200 {
            var bad = full
            let at = cd.lowerBound + rng.below(cd.count + 22)
            bad[at] ^= UInt8(1 + rng.below(255))
            let path = try writeTemp(bad, dir, "flip.pth")
            var loaded: [(name: String, tensor: StoredTensor)] = []
            if checkpointError({ loaded = try TorchCheckpoint.read(path: path).stateDict() }) == nil {
                silent += 1
                #expect(loaded.map(\.name) == good.map(\.name), "flip at \(at)")
                #expect(zip(loaded, good).allSatisfy { $0.tensor == $1.tensor }, "flip at \(at) changed weights")
            }
        }
        // Most of a central header is checked; unchecked fields (times, attributes) stay harmless.
        #expect(silent < 200)
    }

    @Test func flippedStorageByteFailsTheCRC() throws {
        let p = try #require(Fixtures.path("vim-micro.pth"))
        var b = try readBytes(p)
        let name = try #require(Self.find(Array("vim-micro/data/1".utf8), in: b, from: 0))
        // Local header: name at +30, then extra; the storage data follows within ~100 bytes.
        b[name + 200] ^= 0x01
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try writeTemp(b, dir, "crc.pth")
        let e = try #require(checkpointError { _ = try TorchCheckpoint.read(path: path).stateDict() })
        #expect(e.description.contains("CRC"))
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0], Array(hay[i ..< i + needle.count]) == needle { return i }
            i += 1
        }
        return nil
    }
}
