import Foundation
import OuroCheckpoint
import Testing

@Suite struct SafeTensorsRoundTripTests {
    /// Every value here is exactly representable in the dtype it is stored as.
    static let f32Values: [Float] = [0, -0.0, 1, -1.5, .pi, 1e-30, -3.4e38, .infinity, 7]
    static let f16Values: [Float] = [0.5, -2, 1024, 0.099975586, -65504, 6.1035156e-05]
    static let bf16Values: [Float] = [1.5, -3.25, 256, 9.536743e-07, -0.0078125, 3.3895314e38]
    static let i32Values: [Int32] = [.min, -1, 0, 1, .max, 123_456_789]
    static let u8Values: [UInt8] = [0, 1, 0x7F, 0x80, 0xFE, 0xFF]

    static func sample(metadata: [String: String]) throws -> SafeTensorsWriter {
        var w = SafeTensorsWriter(metadata: metadata)
        try w.add("a.f32", shape: [3, 3], floats: f32Values)
        try w.add("b.f16", shape: [2, 3], floats: f16Values, dtype: .f16)
        try w.add("c.bf16", shape: [6], floats: bf16Values, dtype: .bf16)
        try w.add("d.i32", shape: [3, 2], int32s: i32Values)
        try w.add("e.u8", shape: [6], bytes: u8Values)
        try w.add("f.i8", shape: [2], bytes: [0xFF, 0x05], dtype: .i8)
        try w.add("g.scalar", shape: [], floats: [42])
        try w.add("h.empty", shape: [0, 4], floats: [])
        return w
    }

    @Test func roundTripAllDtypesWithMetadata() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let meta = ["format": "pt", "quote\"and\\slash": "line\nbreak ü ✓", "ctl": "\u{1}"]
        let path = dir + "/rt.safetensors"
        try Self.sample(metadata: meta).write(to: path)

        let f = try SafeTensorsFile.read(path: path)
        #expect(f.metadata == meta)
        #expect(f.names == ["a.f32", "b.f16", "c.bf16", "d.i32", "e.u8", "f.i8", "g.scalar", "h.empty"])
        #expect(f.shape(of: "a.f32") == [3, 3])
        #expect(f.shape(of: "nope") == nil)

        let a = try f.tensor("a.f32")
        #expect(a.dtype == .f32 && a.count == 9)
        #expect(try a.floats().map(\.bitPattern) == Self.f32Values.map(\.bitPattern))
        let b = try f.tensor("b.f16")
        #expect(b.dtype == .f16 && b.bytes.count == 12)
        #expect(try b.floats() == Self.f16Values)
        let c = try f.tensor("c.bf16")
        #expect(c.dtype == .bf16 && c.bytes.count == 12)
        #expect(try c.floats() == Self.bf16Values)
        #expect(try f.tensor("d.i32").int32s() == Self.i32Values)
        let e = try f.tensor("e.u8")
        #expect(e.bytes == Self.u8Values)
        #expect(try e.int32s() == Self.u8Values.map { Int32($0) })
        #expect(try f.tensor("f.i8").int32s() == [-1, 5])
        let s = try f.tensor("g.scalar")
        #expect(try s.shape == [] && s.floats() == [42])
        let empty = try f.tensor("h.empty")
        #expect(empty.shape == [0, 4] && empty.count == 0)
    }

    @Test func sameContentGivesByteIdenticalFiles() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Same metadata built in a different insertion order must not matter.
        var m1: [String: String] = [:]
        for k in ["z", "a", "m", "b"] { m1[k] = "v" + k }
        var m2: [String: String] = [:]
        for k in ["b", "m", "a", "z"] { m2[k] = "v" + k }
        try Self.sample(metadata: m1).write(to: dir + "/one.safetensors")
        try Self.sample(metadata: m2).write(to: dir + "/two.safetensors")
        let one = try readBytes(dir + "/one.safetensors")
        let two = try readBytes(dir + "/two.safetensors")
        #expect(one == two)
        #expect(try one == Self.sample(metadata: m1).encoded())
        // Writing again over the same name replaces the file with the same bytes.
        try Self.sample(metadata: m1).write(to: dir + "/one.safetensors")
        #expect(try readBytes(dir + "/one.safetensors") == one)
        // Only the two final files remain: no temporary files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["one.safetensors", "two.safetensors"])
    }

    @Test func exactHeaderLayout() throws {
        var w = SafeTensorsWriter(metadata: ["a": "b"])
        try w.add("x", shape: [2], floats: [1, 2])
        let bytes = w.encoded()
        let json = #"{"__metadata__":{"a":"b"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        // 79 bytes of JSON padded with 1 space to 80, a multiple of 8.
        #expect(json.utf8.count == 79)
        var expected: [UInt8] = []
        expected.le(UInt64(80))
        expected += Array(json.utf8) + [0x20]
        expected += [Float(1), 2].littleEndianBytes
        #expect(bytes == expected)
    }

    @Test func halfPrecisionRoundsToNearestEven() throws {
        var w = SafeTensorsWriter()
        // bf16 keeps 8 significant bits: 1 + 2^-8 is a tie → 1; 1 + 3·2^-8 is a tie → 1 + 2^-6;
        // 1 + 2^-8 + 2^-20 is above the tie → 1 + 2^-7.
        let bfIn: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-8 + 0x1p-20]
        try w.add("bf", shape: [3], floats: bfIn, dtype: .bf16)
        // f16 keeps 11 significant bits: 1 + 2^-11 is a tie → 1; 1 + 3·2^-11 → 1 + 2^-9.
        try w.add("h", shape: [2], floats: [1 + 0x1p-11, 1 + 3 * 0x1p-11], dtype: .f16)
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try w.write(to: dir + "/r.safetensors")
        let f = try SafeTensorsFile.read(path: dir + "/r.safetensors")
        #expect(try f.tensor("bf").floats() == [1, 1 + 0x1p-6, 1 + 0x1p-7])
        #expect(try f.tensor("h").floats() == [1, 1 + 0x1p-9])
    }

    @Test func writerRejectsBadAdds() throws {
        var w = SafeTensorsWriter()
        try w.add("x", shape: [2], floats: [1, 2])
        #expect(checkpointError { try w.add("x", shape: [1], floats: [1]) } != nil)           // duplicate
        #expect(checkpointError { try w.add("y", shape: [3], floats: [1, 2]) } != nil)        // shape mismatch
        #expect(checkpointError { try w.add("y", shape: [-1], floats: []) } != nil)           // negative dim
        #expect(checkpointError { try w.add("__metadata__", shape: [1], floats: [1]) } != nil)
        #expect(checkpointError { try w.add("y", shape: [1], floats: [1], dtype: .i32) } != nil)
        #expect(checkpointError { try w.add("y", shape: [1], bytes: [1], dtype: .f32) } != nil)
        #expect(w.names == ["x"])
    }

    @Test func atomicWriteFailureLeavesNothing() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var w = SafeTensorsWriter()
        try w.add("x", shape: [1], floats: [1])
        let bad = dir + "/missing-folder/out.safetensors"
        let err = try #require(checkpointError { try w.write(to: bad) })
        #expect(err.file == bad)
        #expect(!FileManager.default.fileExists(atPath: bad))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func storedTensorConversions() throws {
        var i64: [UInt8] = []
        for v: Int64 in [-5, 1 << 31 - 1, -(1 << 31)] { i64.le(v) }
        let t = try StoredTensor(dtype: .i64, shape: [3], bytes: i64)
        #expect(try t.int32s() == [-5, .max, .min])
        var big: [UInt8] = []
        big.le(Int64(1) << 31)
        let e = try #require(checkpointError { _ = try StoredTensor(dtype: .i64, shape: [1], bytes: big, name: "big").int32s() })
        #expect(e.key == "big")
        var f64: [UInt8] = []
        f64.le(Double(0.1).bitPattern)
        #expect(try StoredTensor(dtype: .f64, shape: [1], bytes: f64).floats() == [Float(0.1)])
        #expect(checkpointError { _ = try StoredTensor(dtype: .i32, shape: [1], bytes: [0, 0, 0, 0]).floats() } != nil)
        #expect(checkpointError { _ = try StoredTensor(dtype: .f32, shape: [1], bytes: [0, 0, 0, 0]).int32s() } != nil)
        #expect(checkpointError { _ = try StoredTensor(dtype: .f32, shape: [2], bytes: [0, 0, 0, 0]) } != nil)
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}
