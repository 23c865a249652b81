import OuroData
import Testing

@Suite struct IDXTests {
    @Test func encodeParseRoundTrip() throws {
        let data = randomBytes(2 * 3 * 4, seed: 7)
        let bytes = try IDX.encode(dims: [2, 3, 4], data: data)
        #expect(Array(bytes[0..<8]) == [0, 0, 8, 3, 0, 0, 0, 2])
        let a = try IDX.parse(bytes, name: "a.idx", expectedMagic: 0x803, role: "images")
        #expect(a.magic == 0x803 && a.dims == [2, 3, 4] && a.data == data)
    }

    @Test func bodyLengthMustMatchDims() throws {
        let bytes = try IDX.encode(dims: [5, 2], data: randomBytes(10, seed: 8))
        let short = #expect(throws: DataError.self) { try IDX.parse(Array(bytes.dropLast()), name: "s.idx") }
        #expect(short?.description == "s.idx: truncated IDX body: 9 data bytes, expected 10 for dims 5×2")
        let long = #expect(throws: DataError.self) { try IDX.parse(bytes + [0], name: "l.idx") }
        #expect(long?.message.contains("too long") == true)
        let header = #expect(throws: DataError.self) { try IDX.parse(Array(bytes[..<10]), name: "h.idx") }
        #expect(header?.message.contains("truncated IDX header") == true)
    }

    @Test func badMagicAndTypeThrow() throws {
        var bytes = try IDX.encode(dims: [4], data: [1, 2, 3, 4])
        let wrong = #expect(throws: DataError.self) {
            try IDX.parse(bytes, name: "l.idx", expectedMagic: 0x803, role: "images")
        }
        #expect(wrong?.description == "l.idx: bad IDX magic 0x00000801, expected 0x00000803 (images)")
        bytes[2] = 0x0D  // float elements
        let type = #expect(throws: DataError.self) { try IDX.parse(bytes, name: "f.idx") }
        #expect(type?.message.contains("unsupported IDX element type 0xD") == true)
        bytes[0] = 0x1F
        #expect(throws: DataError.self) { try IDX.parse(bytes, name: "z.idx") }
        #expect(throws: DataError.self) { try IDX.parse([0, 0], name: "tiny.idx") }
    }

    @Test func overflowingDimsThrowInsteadOfTrapping() {
        let bytes: [UInt8] = [0, 0, 8, 3] + [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF, 0xFF, 0xFF]
        let e = #expect(throws: DataError.self) { try IDX.parse(bytes, name: "o.idx") }
        #expect(e?.message.contains("overflow") == true)
    }
}
