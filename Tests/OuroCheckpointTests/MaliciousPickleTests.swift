import Foundation
import OuroCheckpoint
import Testing

/// Pickles that would run code under Python's unpickler: they must be parsed as data, and
/// only fail (naming the global) when the value is actually needed.
@Suite struct MaliciousPickleTests {
    static func archive(_ p: PickleBuilder, storages: [(String, [UInt8])] = []) -> [UInt8] {
        TorchSyntheticTests.archive(p, storages: storages)
    }

    static func read(_ bytes: [UInt8]) throws -> TorchCheckpoint {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try TorchCheckpoint.read(path: try writeTemp(bytes, dir, "evil.pth"))
    }

    @Test func osSystemAsTheWholePickle() throws {
        var p = PickleBuilder()
        p.osSystemCall()
        p.stop()
        // The exact protocol-2 bytes: PROTO 2, GLOBAL 'os system', MARK, BINUNICODE, TUPLE, REDUCE, STOP.
        #expect(p.b == [0x80, 0x02, 0x63] + Array("os\nsystem\n".utf8) + [0x28, 0x58, 10, 0, 0, 0]
            + Array("echo pwned".utf8) + [0x74, 0x52, 0x2E])
        let e = try #require(checkpointError { _ = try Self.read(Self.archive(p)) })
        #expect(e.description.contains("os.system"), "\(e)")
        #expect(e.description.contains("disallowed"))
    }

    @Test func osSystemAsTheModelValue() throws {
        var p = PickleBuilder()
        p.dict { p in
            p.str("model"); p.osSystemCall()
            p.str("epoch"); p.int(3)
        }
        p.stop()
        let ckpt = try Self.read(Self.archive(p))
        #expect(ckpt.topLevelKeys == ["model", "epoch"])
        let e = try #require(checkpointError { _ = try ckpt.stateDict() })
        #expect(e.key == "model")
        #expect(e.description.contains("os.system"), "\(e)")
        // The same through the format-independent reader.
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try writeTemp(Self.archive(p), dir, "evil.pth")
        let e2 = try #require(checkpointError { _ = try CheckpointReader.loadStateDict(path: path) })
        #expect(e2.description.contains("os.system"))
    }

    @Test func disallowedGlobalsInsideTheStateDict() throws {
        // A tensor slot holding builtins.eval(...) and a storage of class os.system.
        var p = PickleBuilder()
        p.dict { p in
            p.str("model")
            p.orderedDict { p in
                p.str("w"); p.global("builtins", "eval"); p.mark(); p.str("1+1"); p.op(0x74); p.op(0x52)
            }
        }
        p.stop()
        let e = try #require(checkpointError { _ = try Self.read(Self.archive(p)).stateDict() })
        #expect(e.key == "w" && e.description.contains("builtins.eval"), "\(e)")

        var q = PickleBuilder()
        q.dict { q in
            q.str("model")
            q.orderedDict { q in q.str("w"); q.tensor(key: "0", storageClass: ("os", "system"), numel: 1, size: [1], stride: [1]) }
        }
        q.stop()
        let e2 = try #require(checkpointError { _ = try Self.read(Self.archive(q, storages: [("0", [0, 0, 0, 0])])).stateDict() })
        #expect(e2.key == "w" && e2.description.contains("os.system"), "\(e2)")
    }

    @Test func unneededOpaqueObjectsAreSkipped() throws {
        // 'args' = argparse.Namespace via NEWOBJ + BUILD, 'evil' = os.system(...) with BUILD,
        // SETITEMS and APPENDS applied to it: none of it is needed for 'model'.
        var p = PickleBuilder()
        p.dict { p in
            p.str("args"); p.global("argparse", "Namespace"); p.op(0x29); p.op(0x81)
            p.dict { p in p.str("lr"); p.op(0x47); p.b += [0x3F, 0x50, 0x62, 0x4D, 0xD2, 0xF1, 0xA9, 0xFC] }
            p.op(0x62) // BUILD
            p.str("evil"); p.osSystemCall()
            p.op(0x7D); p.op(0x62) // BUILD with {}
            p.mark(); p.str("k"); p.int(1); p.op(0x75) // SETITEMS on the opaque object
            p.mark(); p.int(1); p.op(0x65)             // APPENDS on the opaque object
            p.str("model")
            p.orderedDict { p in p.str("w"); p.tensor(key: "0", numel: 6, size: [6], stride: [1]) }
        }
        p.stop()
        let ckpt = try Self.read(Self.archive(p, storages: [("0", TorchSyntheticTests.six.littleEndianBytes)]))
        #expect(ckpt.topLevelKeys == ["args", "evil", "model"])
        let sd = try ckpt.stateDict()
        #expect(try sd.map(\.name) == ["w"] && sd[0].tensor.floats() == TorchSyntheticTests.six)
        let e = try #require(checkpointError { _ = try ckpt.stateDict(key: "evil") })
        #expect(e.description.contains("os.system"))
    }

    @Test func unknownOpcodeAndBrokenPicklesThrowWithOffsets() throws {
        var unknown = PickleBuilder()
        unknown.op(0x7D)
        unknown.op(0xFF)
        let e = try #require(checkpointError { _ = try Self.read(Self.archive(unknown)) })
        #expect(e.description.contains("unknown opcode"))
        #expect(e.description.contains("offset 3"))

        let broken: [[UInt8]] = [
            [0x80, 0x02],                                     // no STOP
            [0x80, 0x02, 0x2E],                               // STOP on an empty stack
            [0x80, 0x02, 0x68, 0x07, 0x2E],                   // BINGET of an unknown memo key
            [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], // BINUNICODE longer than the input
            [0x80, 0x02, 0x75, 0x2E],                         // SETITEMS without MARK
            [0x80, 0x02, 0x28, 0x52, 0x2E],                   // REDUCE across a MARK
            [0x80, 0x02, 0x4B, 0x01, 0x4B, 0x02, 0x73, 0x2E], // SETITEM on an int
            [0x80, 0x02, 0x82, 0x01, 0x2E],                   // EXT1
            [0x80, 0x09, 0x7D, 0x2E],                         // protocol 9
            [0x80, 0x02, 0x63, 0x6F, 0x73, 0x2E],             // GLOBAL without newline
        ]
        for raw in broken {
            var p = PickleBuilder()
            p.b = raw
            #expect(checkpointError { _ = try Self.read(Self.archive(p)) } != nil, "\(raw)")
        }
    }

    @Test func textProtocolZeroOpcodes() throws {
        // Protocol 0: {'model': OrderedDict()} with a few text-form scalars stored alongside.
        var p = PickleBuilder()
        p.b = []
        p.b += Array("(dp0\nVmodel\np1\nccollections\nOrderedDict\np2\n(tRp3\n".utf8)
        p.b += Array("sS'x\\n'\np4\nI42\nsVcaf\\u00e9\np5\nL123L\nsF0.5\nI01\ns.".utf8)
        let ckpt = try Self.read(Self.archive(p))
        #expect(ckpt.topLevelKeys == ["model", "x\n", "café"])
        #expect(try ckpt.stateDict().isEmpty)
    }
}
