import CZlib

/// A minimal PNG writer: 8-bit grayscale or RGB, no interlacing, filter type 0 on every row.
///
/// The IDAT payload is one zlib stream from `compress2`; chunk CRCs come from zlib's `crc32`.
public enum PNG {
    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Encodes interleaved 8-bit pixels (row-major; for RGB, R G B per pixel).
    ///
    /// - Parameters:
    ///   - channels: 1 (grayscale, colour type 0) or 3 (RGB, colour type 2).
    ///   - level: zlib compression level 0…9.
    /// - Throws: `DataError` when the sizes disagree or are out of PNG's range.
    public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8],
                              level: Int32 = 6) throws -> [UInt8] {
        let ctx = "PNG.encode"
        guard channels == 1 || channels == 3 else {
            throw DataError(ctx, "\(channels) channels, expected 1 (grayscale) or 3 (RGB)")
        }
        guard (1...Int(Int32.max)).contains(width), (1...Int(Int32.max)).contains(height) else {
            throw DataError(ctx, "size \(width)×\(height), expected 1…\(Int32.max) each")
        }
        let rowBytes = width * channels
        let (total, overflow) = rowBytes.multipliedReportingOverflow(by: height)
        guard !overflow, pixels.count == total else {
            throw DataError(ctx, "\(pixels.count) pixel bytes, expected \(width)×\(height)×\(channels)")
        }
        guard (0...9).contains(level) else { throw DataError(ctx, "compression level \(level), expected 0…9") }

        // Scanlines: a filter-type byte (0 = None) before each row.
        var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * height)
        raw.withUnsafeMutableBufferPointer { dst in
            pixels.withUnsafeBufferPointer { src in
                for y in 0..<height {
                    let d = dst.baseAddress! + y * (rowBytes + 1) + 1
                    d.update(from: src.baseAddress! + y * rowBytes, count: rowBytes)
                }
            }
        }
        let idat = try zlibCompress(raw, level: level)

        var ihdr: [UInt8] = []
        appendU32(&ihdr, UInt32(width))
        appendU32(&ihdr, UInt32(height))
        ihdr += [8, channels == 1 ? 0 : 2, 0, 0, 0]  // depth, colour type, compression, filter, interlace

        var out = signature
        out.reserveCapacity(signature.count + 3 * 12 + ihdr.count + idat.count)
        appendChunk(&out, "IHDR", ihdr)
        appendChunk(&out, "IDAT", idat)
        appendChunk(&out, "IEND", [])
        return out
    }

    /// Encodes and writes a PNG atomically (temporary file, then rename).
    public static func write(to path: String, width: Int, height: Int, channels: Int,
                             pixels: [UInt8]) throws {
        try FileIO.writeAtomically(try encode(width: width, height: height, channels: channels, pixels: pixels),
                                   to: path)
    }

    /// length, type, data, CRC-32 over type and data.
    private static func appendChunk(_ out: inout [UInt8], _ type: String, _ data: [UInt8]) {
        let typeBytes = Array(type.utf8)
        appendU32(&out, UInt32(data.count))
        out += typeBytes
        out += data
        appendU32(&out, Zlib.crc32(data, initial: Zlib.crc32(typeBytes)))
    }

    /// One zlib stream via `compress2`.
    private static func zlibCompress(_ raw: [UInt8], level: Int32) throws -> [UInt8] {
        var destLen = compressBound(uLong(raw.count))
        var out = [UInt8](repeating: 0, count: Int(destLen))
        let rc = out.withUnsafeMutableBufferPointer { dst in
            raw.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress!, &destLen, src.baseAddress!, uLong(src.count), level)
            }
        }
        guard rc == Z_OK else { throw DataError("PNG.encode", "zlib compress2 failed (code \(rc))") }
        out.removeLast(out.count - Int(destLen))
        return out
    }
}
