import Foundation
import OuroCheckpoint
import Testing

/// Torch checkpoints built by hand in memory: layouts, dtypes, views and zip64.
@Suite struct TorchSyntheticTests {
    /// Storage "0": six float32 values 0…5.
    static let six: [Float] = [0, 1, 2, 3, 4, 5]

    static func archive(_ pickle: PickleBuilder, storages: [(String, [UInt8])], root: String = "archive/",
                        zip64: Bool = false) -> [UInt8] {
        var z = StoredZipBuilder()
        z.zip64 = zip64
        z.add(root + "data.pkl", pickle.b)
        z.add(root + "byteorder", Array("little".utf8))
        for (k, d) in storages { z.add(root + "data/" + k, d) }
        z.add(root + "version", Array("3\n".utf8))
        return z.build()
    }

    static func load(_ bytes: [UInt8], key: String = "model") throws -> [(name: String, tensor: StoredTensor)] {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try writeTemp(bytes, dir, "x.pth")
        return try TorchCheckpoint.read(path: p).stateDict(key: key)
    }

    static func loadError(_ bytes: [UInt8], key: String = "model") throws -> CheckpointError? {
        checkpointError { _ = try load(bytes, key: key) }
    }

    /// `{'model': OrderedDict(w=<view>)}` over storage "0" holding `six`.
    static func oneTensor(offset: Int = 0, size: [Int], stride: [Int], numel: Int = 6,
                          storageClass: (String, String) = ("torch", "FloatStorage")) -> PickleBuilder {
        var p = PickleBuilder()
        p.dict { p in
            p.str("model")
            p.orderedDict { p in
                p.str("w")
                p.tensor(key: "0", storageClass: storageClass, numel: numel, offset: offset, size: size, stride: stride)
            }
        }
        p.stop()
        return p
    }

    @Test func contiguousAndStridedViews() throws {
        let data = [("0", Self.six.littleEndianBytes)]
        let plain = try Self.load(Self.archive(Self.oneTensor(size: [2, 3], stride: [3, 1]), storages: data))
        #expect(plain.count == 1 && plain[0].name == "w")
        #expect(plain[0].tensor.shape == [2, 3])
        #expect(try plain[0].tensor.floats() == [0, 1, 2, 3, 4, 5])
        // Transpose: size (3, 2), stride (1, 3) → rows [0,3], [1,4], [2,5].
        let t = try Self.load(Self.archive(Self.oneTensor(size: [3, 2], stride: [1, 3]), storages: data))
        #expect(try t[0].tensor.floats() == [0, 3, 1, 4, 2, 5])
        // Offset 1, every second element: [1, 3, 5].
        let s = try Self.load(Self.archive(Self.oneTensor(offset: 1, size: [3], stride: [2]), storages: data))
        #expect(try s[0].tensor.floats() == [1, 3, 5])
        // Broadcast (stride 0) and a scalar.
        let b = try Self.load(Self.archive(Self.oneTensor(offset: 4, size: [2, 2], stride: [0, 1]), storages: data))
        #expect(try b[0].tensor.floats() == [4, 5, 4, 5])
        let scalar = try Self.load(Self.archive(Self.oneTensor(offset: 5, size: [], stride: []), storages: data))
        #expect(try scalar[0].tensor.shape == [] && scalar[0].tensor.floats() == [5])
        // A size-1 dimension may have any stride.
        let one = try Self.load(Self.archive(Self.oneTensor(offset: 2, size: [1, 2], stride: [Int.max, 1]), storages: data))
        #expect(try one[0].tensor.floats() == [2, 3])
        // Empty tensor.
        let empty = try Self.load(Self.archive(Self.oneTensor(size: [0, 3], stride: [3, 1]), storages: data))
        #expect(empty[0].tensor.count == 0)
    }

    @Test func viewsOutsideTheStorageAreRejected() throws {
        let data = [("0", Self.six.littleEndianBytes)]
        let cases: [(Int, [Int], [Int])] = [(1, [2, 3], [3, 1]), (0, [3, 2], [1, 4]), (6, [1], [1]), (7, [0], [1]),
                                            (0, [2], [Int.max / 2 + 1])]
        for (off, size, stride) in cases {
            let e = try #require(try Self.loadError(Self.archive(Self.oneTensor(offset: off, size: size, stride: stride),
                                                                 storages: data)), "\(off) \(size) \(stride)")
            #expect(e.key == "w")
        }
        // A broadcast view far larger than its storage is refused before allocating.
        let huge = try #require(try Self.loadError(Self.archive(Self.oneTensor(size: [1 << 40], stride: [0]), storages: data)))
        #expect(huge.description.contains("limit"))
        // Storage entry shorter than numel says, and a missing storage entry.
        let short = try #require(try Self.loadError(Self.archive(Self.oneTensor(size: [6], stride: [1], numel: 7), storages: data)))
        #expect(short.description.contains("archive/data/0"))
        let missing = try #require(try Self.loadError(Self.archive(Self.oneTensor(size: [6], stride: [1]), storages: [])))
        #expect(missing.description.contains("missing"))
    }

    @Test func halfAndBFloat16StoragesConvertAndOtherDtypesAreRejected() throws {
        var f16: [UInt8] = []
        for v: Float16 in [1.5, -2, 0.25] { f16.le(v.bitPattern) }
        let h = try Self.load(Self.archive(Self.oneTensor(size: [3], stride: [1], numel: 3,
                                                          storageClass: ("torch", "HalfStorage")), storages: [("0", f16)]))
        #expect(h[0].tensor.dtype == .f32)
        #expect(try h[0].tensor.floats() == [1.5, -2, 0.25])
        let bf16: [UInt8] = [0xC0, 0x3F, 0x80, 0xBF, 0x00, 0x43] // 1.5, -1, 128
        let b = try Self.load(Self.archive(Self.oneTensor(size: [3], stride: [1], numel: 3,
                                                          storageClass: ("torch", "BFloat16Storage")), storages: [("0", bf16)]))
        #expect(try b[0].tensor.floats() == [1.5, -1, 128])
        var i64: [UInt8] = []
        for v: Int64 in [1, 2, 3] { i64.le(v) }
        let e = try #require(try Self.loadError(Self.archive(Self.oneTensor(size: [3], stride: [1], numel: 3,
                                                                             storageClass: ("torch", "LongStorage")), storages: [("0", i64)])))
        #expect(e.key == "w" && e.description.contains("I64"))
    }

    @Test func topLevelStateDictRootFolderAndZip64() throws {
        // torch.save(model.state_dict()): the top level is the OrderedDict itself.
        var p = PickleBuilder()
        p.orderedDict { p in
            p.str("a"); p.tensor(key: "0", numel: 6, size: [2], stride: [1])
            p.str("b"); p.tensor(key: "0", numel: 6, offset: 2, size: [4], stride: [1])
        }
        p.stop()
        for zip64 in [false, true] {
            for root in ["archive/", "some/deeper/name/", ""] {
                let bytes = Self.archive(p, storages: [("0", Self.six.littleEndianBytes)], root: root, zip64: zip64)
                let sd = try Self.load(bytes)
                #expect(sd.map(\.name) == ["a", "b"], "root '\(root)' zip64 \(zip64)")
                #expect(try sd.last?.tensor.floats() == [2, 3, 4, 5])
            }
        }
    }

    @Test func rebuildParameterAndProtocol4Opcodes() throws {
        // Protocol 4 with FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE and _rebuild_parameter.
        var p = PickleBuilder(protocol: 4)
        p.op(0x95); p.b.le(UInt64(0)) // FRAME (length not enforced)
        p.op(0x7D); p.op(0x94)        // EMPTY_DICT MEMOIZE
        p.op(0x8C); p.b += [5] + Array("model".utf8); p.op(0x94)
        p.op(0x8C); p.b += [11] + Array("collections".utf8)
        p.op(0x8C); p.b += [11] + Array("OrderedDict".utf8)
        p.op(0x93); p.op(0x29); p.op(0x52) // STACK_GLOBAL () REDUCE
        p.mark()
        p.str("w")
        p.global("torch._utils", "_rebuild_parameter")
        p.tensor(key: "0", numel: 6, size: [3], stride: [2])
        p.op(0x88); p.emptyOrderedDict(); p.op(0x87) // (tensor, True, OrderedDict()) via TUPLE3
        p.op(0x52)
        p.op(0x75) // SETITEMS into the OrderedDict
        p.op(0x73) // SETITEM 'model' into the top dict
        p.stop()
        let sd = try Self.load(Self.archive(p, storages: [("0", Self.six.littleEndianBytes)]))
        #expect(sd.map(\.name) == ["w"])
        #expect(try sd[0].tensor.floats() == [0, 2, 4])
    }

    @Test func compressedEntriesAreRejected() throws {
        var bytes = Self.archive(Self.oneTensor(size: [6], stride: [1]), storages: [("0", Self.six.littleEndianBytes)])
        // Mark the first central-directory entry as deflated (method 8).
        let cd = TorchFixtureTests.find([0x50, 0x4B, 0x01, 0x02], in: bytes, from: 0)!
        bytes[cd + 10] = 8
        let e = try #require(try Self.loadError(bytes))
        #expect(e.description.contains("compressed"))
        #expect(e.key == "archive/data.pkl")
    }
}
