/// An IDX array (the MNIST container): big-endian header, then raw row-major elements.
public struct IDXArray: Sendable, Equatable {
    /// The 4-byte magic: two zero bytes, the element type, the number of dimensions.
    public let magic: UInt32
    /// Dimensions from the header, outermost first.
    public let dims: [Int]
    /// The elements (unsigned bytes), `dims.reduce(1, *)` of them.
    public let data: [UInt8]
}

/// Parser for IDX files holding unsigned bytes (type code 0x08).
public enum IDX {
    /// Type code of unsigned-byte elements, the only one this parser reads.
    public static let unsignedByte: UInt8 = 0x08

    /// Magic of a rank-`rank` unsigned-byte array (0x00000801 labels, 0x00000803 images).
    public static func magic(rank: Int) -> UInt32 { UInt32(unsignedByte) << 8 | UInt32(rank & 0xFF) }

    /// Parses an (already decompressed) IDX file.
    ///
    /// - Parameters:
    ///   - name: the file name used in error messages.
    ///   - expectedMagic: when set, any other magic throws; `role` (e.g. "images") is named.
    /// - Throws: `DataError` for a bad magic, an unsupported element type, a short header, or a
    ///   body whose length is not exactly the product of the dimensions.
    public static func parse(_ bytes: [UInt8], name: String,
                             expectedMagic: UInt32? = nil, role: String? = nil) throws -> IDXArray {
        guard bytes.count >= 4 else {
            throw DataError(name, "\(bytes.count) bytes is too short for an IDX header (at least 4)")
        }
        let magic = readU32(bytes, at: 0)
        if let want = expectedMagic, magic != want {
            throw DataError(name, "bad IDX magic \(hex32(magic)), expected \(hex32(want))"
                            + (role.map { " (\($0))" } ?? ""))
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DataError(name, "bad IDX magic \(hex32(magic)), expected 0x0000TTNN (two zero bytes, type, rank)")
        }
        guard bytes[2] == unsignedByte else {
            throw DataError(name, "unsupported IDX element type 0x\(String(bytes[2], radix: 16, uppercase: true)), "
                            + "expected 0x08 (unsigned byte)")
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw DataError(name, "IDX rank 0, expected at least one dimension") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw DataError(name, "truncated IDX header: \(bytes.count) bytes, expected \(headerSize) for \(rank) dimensions")
        }
        let dims = (0..<rank).map { Int(readU32(bytes, at: 4 + 4 * $0)) }
        guard let expected = product(dims) else {
            throw DataError(name, "IDX dimensions \(shapeText(dims)) overflow")
        }
        let body = bytes.count - headerSize
        guard body == expected else {
            let what = body < expected ? "truncated IDX body" : "IDX body too long"
            throw DataError(name, "\(what): \(body) data bytes, expected \(expected) for dims \(shapeText(dims))")
        }
        return IDXArray(magic: magic, dims: dims, data: Array(bytes[headerSize...]))
    }

    /// Serialises an unsigned-byte array (used by tests and tools that write IDX).
    public static func encode(dims: [Int], data: [UInt8]) throws -> [UInt8] {
        guard (1...255).contains(dims.count), dims.allSatisfy({ (0...Int(UInt32.max)).contains($0) }) else {
            throw DataError("IDX.encode", "dims \(dims): expected 1…255 dimensions, each 0…\(UInt32.max)")
        }
        guard let n = product(dims), n == data.count else {
            throw DataError("IDX.encode", "dims \(shapeText(dims)) do not match \(data.count) data bytes")
        }
        var out: [UInt8] = []
        out.reserveCapacity(4 + 4 * dims.count + data.count)
        appendU32(&out, magic(rank: dims.count))
        for d in dims { appendU32(&out, UInt32(d)) }
        out += data
        return out
    }

    private static func readU32(_ b: [UInt8], at i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    /// Product of `dims`, nil on overflow.
    private static func product(_ dims: [Int]) -> Int? {
        var n = 1
        for d in dims {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    private static func shapeText(_ dims: [Int]) -> String { dims.map(String.init).joined(separator: "×") }
}

/// Appends `v` big-endian (IDX and PNG are both big-endian).
func appendU32(_ out: inout [UInt8], _ v: UInt32) {
    out.append(UInt8(v >> 24)); out.append(UInt8((v >> 16) & 0xFF))
    out.append(UInt8((v >> 8) & 0xFF)); out.append(UInt8(v & 0xFF))
}
