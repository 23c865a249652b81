import Foundation
import OuroData
import Testing

/// The image goldens made by PIL (scripts/make-image-goldens.py, Debian's python3-pil).
enum ImageGoldens {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Goldens/images").path

    struct Case { var file: String; var channels: Int; var decoded: String; var vim: [Int: String] }

    static func cases() throws -> [Case] {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try #require(root["cases"] as? [[String: Any]])
        return try list.map { c in
            let vim = try #require(c["vim"] as? [String: String])
            return Case(file: try #require(c["file"] as? String), channels: try #require(c["channels"] as? Int),
                        decoded: try #require(c["decoded"] as? String),
                        vim: Dictionary(uniqueKeysWithValues: vim.map { (Int($0.key)!, $0.value) }))
        }
    }

    static func image(_ name: String) throws -> RasterImage { try ImageDecoder.decode(file: directory + "/" + name) }
}

@Suite struct ImageGoldenTests {
    /// JPEG (baseline, progressive, gray, CMYK) and PNG (palette, alpha, 16-bit, interlaced, 1-bit)
    /// decode and convert to RGB / luminance exactly as PIL does.
    @Test func decodingMatchesPIL() throws {
        let cases = try ImageGoldens.cases()
        #expect(cases.count >= 12)
        for c in cases {
            let ours = try ImageGoldens.image(c.file).converted(toChannels: c.channels)
            let pil = try ImageGoldens.image(c.decoded)
            #expect(pil.channels == c.channels, "\(c.decoded)")
            #expect(ours.width == pil.width && ours.height == pil.height, "\(c.file)")
            let diff = zip(ours.pixels, pil.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            #expect(diff == 0, "\(c.file) → \(c.channels) channels: max |ours − PIL| = \(diff)")
        }
    }

    /// The Vim evaluation transform equals PIL + torchvision within 2/255 per pixel (it is in
    /// fact equal: PIL's fixed-point bicubic is reproduced), on odd sizes and aspect ratios.
    @Test func vimTransformMatchesPIL() throws {
        var checked = 0, worst = 0
        for c in try ImageGoldens.cases() {
            let decoded = try ImageGoldens.image(c.file)
            for (size, golden) in c.vim {
                let ours = try ImageTransform.vim(cropRatio: 0.875).apply(decoded, size: size, channels: c.channels, name: c.file)
                let pil = try ImageGoldens.image(golden)
                #expect(ours.width == size && ours.height == size && ours.channels == c.channels)
                let diff = zip(ours.pixels, pil.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 255
                #expect(diff <= 2, "\(c.file) vim\(size): max |ours − PIL| = \(diff)")
                worst = max(worst, diff)
                checked += 1
            }
        }
        #expect(checked >= 15)
        #expect(worst == 0, "PIL's bicubic is reproduced exactly; max difference \(worst)")
    }

    @Test func transformNoneNeedsTheModelSize() throws {
        let img = try ImageGoldens.image("tall.png")
        let e = #expect(throws: DataError.self) { try ImageTransform.none.apply(img, size: 28, channels: 3, name: "tall.png") }
        #expect(e?.message.contains("expected 28×28") == true)
        let same = try ImageTransform.none.apply(try img.cropped(left: 0, top: 0, width: 19, height: 19), size: 19, channels: 3, name: "x")
        #expect(same.width == 19)
    }

    /// Resizing a constant image keeps it constant (normalised weights), upscaling included.
    @Test func resizeKeepsConstants() throws {
        for (w, h, ow, oh) in [(7, 5, 30, 11), (100, 3, 9, 9), (13, 13, 13, 40)] {
            let img = try RasterImage(width: w, height: h, channels: 3, pixels: [UInt8](repeating: 77, count: w * h * 3))
            let r = try BicubicResize.resize(img, width: ow, height: oh)
            #expect(r.pixels.allSatisfy { $0 == 77 }, "\(w)×\(h) → \(ow)×\(oh)")
        }
    }

    @Test func jpegRoundTripAndCMYK() throws {
        var px: [UInt8] = []
        for y in 0..<20 { for x in 0..<30 { px += [UInt8(x * 8), UInt8(y * 12), 128] } }
        let jpg = try ImageDecoder.encodeJPEG(pixels: px, width: 30, height: 20, channels: 3, quality: 100)
        let back = try ImageDecoder.decode(jpg, name: "mem.jpg")
        #expect(back.width == 30 && back.height == 20 && back.channels == 3)
        let err = zip(back.pixels, px).map { abs(Int($0) - Int($1)) }.max() ?? 255
        #expect(err <= 6, "quality-100 JPEG round trip error \(err)")
        // CMYK written as stored (Adobe: inverted) reads back as RGB: stored (255, 255, 255, 255) is no ink → white.
        let cmyk = try ImageDecoder.encodeJPEG(pixels: [UInt8](repeating: 255, count: 8 * 8 * 4), width: 8, height: 8, channels: 4)
        let white = try ImageDecoder.decode(cmyk, name: "cmyk.jpg")
        #expect(white.channels == 3 && white.pixels.allSatisfy { $0 >= 253 })
    }
}
