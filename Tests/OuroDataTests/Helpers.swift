import Foundation
import OuroData
import OuroEngine

/// Fashion-MNIST is installed (else dataset tests skip, and say so on stderr).
let fashionAvailable: Bool = {
    let ok = FashionMNIST.isAvailable()
    if !ok {
        FileHandle.standardError.write(Data("""
            ************************************************************************
            SKIPPING Fashion-MNIST tests: files not found in \(FashionMNIST.defaultDirectory)
            (install the Debian package dataset-fashion-mnist)
            ************************************************************************

            """.utf8))
    }
    return ok
}()

/// A fresh temporary folder, removed after `body`.
func withTempDir<T>(_ body: (String) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("ourodata-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

/// Writes `bytes` to `path` (plain Foundation, independent of the code under test).
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Bitwise CRC-32 (reflected 0xEDB88320), independent of zlib.
func referenceCRC32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// 64-bit FNV-1a, used to pin pixel contents.
func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return h
}

/// Seeded random bytes.
func randomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
    var rng = Xoshiro256StarStar(seed: seed)
    return (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// Writes a small fake Fashion-MNIST split into `dir` (gzip'd IDX), with an optional
/// patched images magic.
func writeFakeSplit(dir: String, split: DatasetSplit, images: [UInt8], count: Int, height: Int = 28,
                    width: Int = 28, labels: [UInt8], imagesMagic: UInt32? = nil) throws {
    var img = try IDX.encode(dims: [count, height, width], data: images)
    if let m = imagesMagic {
        img[0] = UInt8(m >> 24); img[1] = UInt8((m >> 16) & 0xFF); img[2] = UInt8((m >> 8) & 0xFF); img[3] = UInt8(m & 0xFF)
    }
    let lbl = try IDX.encode(dims: [labels.count], data: labels)
    let f = FashionMNIST.files(directory: dir, split: split)
    try writeFile(f.images, try Zlib.deflate(img, format: .gzip))
    try writeFile(f.labels, try Zlib.deflate(lbl, format: .gzip))
}

/// A decoded PNG, as read by the test decoder below.
struct DecodedPNG {
    var width = 0, height = 0, bitDepth = 0, colorType = 0, compression = 0, filter = 0, interlace = 0
    var chunkTypes: [String] = []
    var filterBytes: [UInt8] = []
    var pixels: [UInt8] = []
}

struct PNGDecodeError: Error, CustomStringConvertible { let description: String }

/// A strict decoder for the subset PNG.encode writes: checks the signature, every chunk CRC
/// (with the reference CRC, not zlib's), inflates the IDAT stream and undoes all five filters.
func decodePNG(_ b: [UInt8]) throws -> DecodedPNG {
    func fail(_ s: String) -> PNGDecodeError { PNGDecodeError(description: s) }
    func u32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
    guard b.count >= 8, Array(b[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { throw fail("signature") }
    var out = DecodedPNG()
    var idat: [UInt8] = []
    var i = 8
    while i < b.count {
        guard i + 12 <= b.count else { throw fail("short chunk at \(i)") }
        let len = u32(i)
        guard i + 12 + len <= b.count else { throw fail("chunk overruns file") }
        let typeAndData = Array(b[(i + 4)..<(i + 8 + len)])
        let type = String(decoding: typeAndData[0..<4], as: UTF8.self)
        guard UInt32(u32(i + 8 + len)) == referenceCRC32(typeAndData) else { throw fail("bad CRC in \(type)") }
        let data = Array(typeAndData[4...])
        out.chunkTypes.append(type)
        switch type {
        case "IHDR":
            guard len == 13 else { throw fail("IHDR length \(len)") }
            out.width = Int(data[0]) << 24 | Int(data[1]) << 16 | Int(data[2]) << 8 | Int(data[3])
            out.height = Int(data[4]) << 24 | Int(data[5]) << 16 | Int(data[6]) << 8 | Int(data[7])
            out.bitDepth = Int(data[8]); out.colorType = Int(data[9])
            out.compression = Int(data[10]); out.filter = Int(data[11]); out.interlace = Int(data[12])
        case "IDAT": idat += data
        case "IEND": guard len == 0 else { throw fail("IEND length") }
        default: break
        }
        i += 12 + len
    }
    let bpp = out.colorType == 2 ? 3 : 1
    let raw = try Zlib.inflate(idat, format: .zlib, name: "IDAT")
    let stride = out.width * bpp
    guard raw.count == (stride + 1) * out.height else { throw fail("IDAT has \(raw.count) bytes") }
    var px = [UInt8](repeating: 0, count: stride * out.height)
    for y in 0..<out.height {
        let f = raw[y * (stride + 1)]
        out.filterBytes.append(f)
        for x in 0..<stride {
            let v = raw[y * (stride + 1) + 1 + x]
            let a = x >= bpp ? Int(px[y * stride + x - bpp]) : 0
            let up = y > 0 ? Int(px[(y - 1) * stride + x]) : 0
            let c = (x >= bpp && y > 0) ? Int(px[(y - 1) * stride + x - bpp]) : 0
            let pred: Int
            switch f {
            case 0: pred = 0
            case 1: pred = a
            case 2: pred = up
            case 3: pred = (a + up) / 2
            case 4:
                let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? up : c)
            default: throw fail("filter type \(f)")
            }
            px[y * stride + x] = UInt8(truncatingIfNeeded: Int(v) + pred)
        }
    }
    out.pixels = px
    return out
}
