import OuroData
import Testing

@Suite struct ZlibTests {
    @Test func gzipRoundTripAndHeader() throws {
        let data = randomBytes(100_000, seed: 1) + [UInt8](repeating: 7, count: 50_000)
        let gz = try Zlib.deflate(data, format: .gzip)
        #expect(Array(gz[0..<3]) == [0x1F, 0x8B, 0x08])  // gzip magic, deflate method
        #expect(try Zlib.inflate(gz, format: .gzip, name: "x.gz") == data)
        let z = try Zlib.deflate(data, format: .zlib, level: 9)
        #expect(z[0] & 0x0F == 8)  // zlib CM = deflate
        #expect(try Zlib.inflate(z, format: .zlib, name: "x.z") == data)
    }

    @Test func emptyPayloadRoundTrips() throws {
        let gz = try Zlib.deflate([], format: .gzip)
        #expect(try Zlib.inflate(gz, format: .gzip, name: "e.gz").isEmpty)
    }

    @Test func concatenatedMembersDecodeLikeGunzip() throws {
        let a = randomBytes(1000, seed: 2), b = randomBytes(500, seed: 3)
        let gz = try Zlib.deflate(a, format: .gzip) + Zlib.deflate(b, format: .gzip)
        #expect(try Zlib.inflate(gz, format: .gzip, name: "two.gz") == a + b)
    }

    @Test func everyTruncationThrows() throws {
        let gz = try Zlib.deflate(randomBytes(5000, seed: 4), format: .gzip)
        for cut in stride(from: 0, to: gz.count, by: 97) + [gz.count - 1, gz.count - 4] {
            let e = #expect(throws: DataError.self) { try Zlib.inflate(Array(gz[..<cut]), format: .gzip, name: "t.gz") }
            #expect(e?.context == "t.gz")
            if cut > 20 { #expect(e?.message.contains("truncated") == true, "cut \(cut): \(String(describing: e))") }
        }
    }

    @Test func corruptDataThrows() throws {
        let payload = randomBytes(5000, seed: 5)
        var gz = try Zlib.deflate(payload, format: .gzip)
        gz[gz.count / 2] ^= 0x55
        let e = #expect(throws: DataError.self) { try Zlib.inflate(gz, format: .gzip, name: "c.gz") }
        #expect(e?.message.contains("corrupt") == true)
        // A wrong stored CRC alone must also be caught.
        var badCRC = try Zlib.deflate(payload, format: .gzip)
        badCRC[badCRC.count - 8] ^= 1
        #expect(throws: DataError.self) { try Zlib.inflate(badCRC, format: .gzip, name: "c.gz") }
        // Not gzip at all.
        #expect(throws: DataError.self) { try Zlib.inflate(Array("hello world".utf8), format: .gzip, name: "n.gz") }
    }

    @Test func trailingGarbageThrows() throws {
        let gz = try Zlib.deflate([1, 2, 3], format: .gzip) + [0, 0, 0]
        let e = #expect(throws: DataError.self) { try Zlib.inflate(gz, format: .gzip, name: "g.gz") }
        #expect(e?.message.contains("3 unexpected bytes") == true)
    }

    @Test func crcMatchesReference() {
        #expect(Zlib.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        let r = randomBytes(3333, seed: 6)
        #expect(Zlib.crc32(r) == referenceCRC32(r))
        #expect(Zlib.crc32(Array(r[1000...]), initial: Zlib.crc32(Array(r[..<1000]))) == referenceCRC32(r))
    }
}
