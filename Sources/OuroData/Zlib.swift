import CZlib

/// The two stream wrappers zlib can read and write.
public enum ZlibFormat: Sendable {
    /// RFC 1950 (2-byte header, Adler-32 trailer), as inside PNG IDAT chunks.
    case zlib
    /// RFC 1952 (gzip header, CRC-32 and length trailer), as in `.gz` files.
    case gzip

    /// `windowBits` for `inflateInit2_`/`deflateInit2_`: +16 selects the gzip wrapper.
    var windowBits: Int32 { self == .gzip ? 16 + MAX_WBITS : MAX_WBITS }
    var label: String { self == .gzip ? "gzip" : "zlib" }
}

/// Thin, throwing wrappers around the system zlib.
public enum Zlib {
    /// Decompresses a complete zlib or gzip stream.
    ///
    /// Concatenated gzip members are decoded one after another (as `gunzip` does). Corrupt
    /// data, a bad checksum, a stream that ends early and bytes after the end all throw a
    /// `DataError` naming `name`.
    public static func inflate(_ input: [UInt8], format: ZlibFormat, name: String) throws -> [UInt8] {
        guard !input.isEmpty else { throw DataError(name, "empty \(format.label) stream") }
        guard input.count <= Int(UInt32.max) else {
            throw DataError(name, "\(input.count) bytes is more than one \(format.label) call can take (4 GiB)")
        }
        var stream = z_stream()
        var rc = inflateInit2_(&stream, format.windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw DataError(name, "zlib inflateInit2 failed (code \(rc))") }
        defer { inflateEnd(&stream) }

        var out = [UInt8](repeating: 0, count: initialCapacity(input, format: format))
        var produced = 0
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress!)
            stream.avail_in = uInt(inBuf.count)
            while true {
                if produced == out.count {
                    // Grow geometrically; the size hint is only a hint.
                    out.append(contentsOf: repeatElement(0, count: max(out.count, 1 << 16)))
                }
                rc = out.withUnsafeMutableBufferPointer { ob -> Int32 in
                    let room = min(ob.count - produced, Int(UInt32.max))
                    stream.next_out = ob.baseAddress! + produced
                    stream.avail_out = uInt(room)
                    let r = CZlib.inflate(&stream, Z_NO_FLUSH)
                    produced += room - Int(stream.avail_out)
                    return r
                }
                switch rc {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    let left = Int(stream.avail_in)
                    if left == 0 { return }
                    let at = inBuf.count - left
                    if format == .gzip, left >= 2, inBuf[at] == 0x1F, inBuf[at + 1] == 0x8B {
                        inflateReset(&stream)  // next gzip member
                        continue
                    }
                    throw DataError(name, "\(left) unexpected bytes after the end of the \(format.label) stream")
                case Z_BUF_ERROR:
                    // No progress: either the output is full (grown above) or the input ran out.
                    if stream.avail_in == 0 {
                        throw DataError(name, "truncated \(format.label) stream: input ended after "
                                        + "\(inBuf.count) bytes (\(produced) decoded) before the end marker")
                    }
                    if produced < out.count {  // cannot happen per zlib's contract; never spin
                        throw DataError(name, "zlib inflate made no progress")
                    }
                case Z_DATA_ERROR:
                    let why = stream.msg.map { String(cString: $0) } ?? "invalid data"
                    throw DataError(name, "corrupt \(format.label) stream: \(why) "
                                    + "(at input byte \(inBuf.count - Int(stream.avail_in)))")
                case Z_NEED_DICT:
                    throw DataError(name, "\(format.label) stream needs a preset dictionary (unsupported)")
                case Z_MEM_ERROR:
                    throw DataError(name, "zlib ran out of memory")
                default:
                    throw DataError(name, "zlib inflate failed (code \(rc))")
                }
            }
        }
        out.removeLast(out.count - produced)
        return out
    }

    /// Compresses `input` into one zlib or gzip stream at `level` (0…9, or -1 for zlib's default).
    public static func deflate(_ input: [UInt8], format: ZlibFormat, level: Int32 = Z_DEFAULT_COMPRESSION) throws -> [UInt8] {
        guard level == Z_DEFAULT_COMPRESSION || (0...9).contains(level) else {
            throw DataError("Zlib.deflate", "compression level \(level), expected -1 or 0…9")
        }
        guard input.count <= Int(UInt32.max) else {
            throw DataError("Zlib.deflate", "\(input.count) bytes is more than one call can take (4 GiB)")
        }
        var stream = z_stream()
        var rc = deflateInit2_(&stream, level, Z_DEFLATED, format.windowBits, 8, Z_DEFAULT_STRATEGY,
                               ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw DataError("Zlib.deflate", "deflateInit2 failed (code \(rc))") }
        defer { deflateEnd(&stream) }
        // deflateBound is an upper bound for a single Z_FINISH call.
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))))
        var written = 0
        rc = input.withUnsafeBufferPointer { inBuf in
            out.withUnsafeMutableBufferPointer { ob in
                // zlib accepts a null input pointer when avail_in is 0 (empty input).
                stream.next_in = inBuf.baseAddress.map { UnsafeMutablePointer(mutating: $0) }
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = ob.baseAddress!
                stream.avail_out = uInt(ob.count)
                let r = CZlib.deflate(&stream, Z_FINISH)
                written = ob.count - Int(stream.avail_out)
                return r
            }
        }
        guard rc == Z_STREAM_END else { throw DataError("Zlib.deflate", "deflate failed (code \(rc))") }
        out.removeLast(out.count - written)
        return out
    }

    /// CRC-32 (the gzip/PNG polynomial) of `bytes`, continuing from `initial`.
    public static func crc32(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBufferPointer { p in
            UInt32(truncatingIfNeeded: CZlib.crc32(uLong(initial), p.baseAddress, uInt(p.count)))
        }
    }

    /// Output size to start with: gzip's ISIZE trailer (length mod 2^32) when plausible.
    private static func initialCapacity(_ input: [UInt8], format: ZlibFormat) -> Int {
        let fallback = min(max(input.count * 4, 1 << 16), 1 << 30)
        guard format == .gzip, input.count >= 18 else { return fallback }
        let n = input.count
        let isize = Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24
        // Deflate cannot expand by more than ~1032x; anything else is a lie or a wrapped size.
        return (isize > 0 && isize <= input.count * 1032 && isize <= 1 << 31) ? isize : fallback
    }
}
