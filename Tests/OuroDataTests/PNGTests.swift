import Foundation
import OuroData
import OuroEngine
import Testing

@Suite struct PNGTests {
    func roundTrip(width: Int, height: Int, channels: Int, seed: UInt64) throws {
        let px = randomBytes(width * height * channels, seed: seed)
        let png = try PNG.encode(width: width, height: height, channels: channels, pixels: px)
        #expect(Array(png.prefix(8)) == PNG.signature)
        let d = try decodePNG(png)  // also checks every CRC with the reference CRC
        #expect(d.chunkTypes == ["IHDR", "IDAT", "IEND"])
        #expect(d.width == width && d.height == height)
        #expect(d.bitDepth == 8 && d.colorType == (channels == 1 ? 0 : 2))
        #expect(d.compression == 0 && d.filter == 0 && d.interlace == 0)
        #expect(d.filterBytes == [UInt8](repeating: 0, count: height))
        #expect(d.pixels == px)
    }

    @Test func grayscaleRoundTrips() throws {
        try roundTrip(width: 5, height: 3, channels: 1, seed: 30)
        try roundTrip(width: 1, height: 1, channels: 1, seed: 31)
        try roundTrip(width: 301, height: 207, channels: 1, seed: 32)
    }

    @Test func rgbRoundTrips() throws {
        try roundTrip(width: 7, height: 4, channels: 3, seed: 33)
        try roundTrip(width: 256, height: 300, channels: 3, seed: 34)
    }

    @Test func knownTinyFileLayout() throws {
        // 2×1 grey [0, 255]: IHDR fields at fixed offsets.
        let png = try PNG.encode(width: 2, height: 1, channels: 1, pixels: [0, 255])
        #expect(Array(png[8..<16]) == [0, 0, 0, 13] + Array("IHDR".utf8))
        #expect(Array(png[16..<29]) == [0, 0, 0, 2, 0, 0, 0, 1, 8, 0, 0, 0, 0])
        #expect(Array(png.suffix(12)) == [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82])
    }

    @Test func badInputThrows() {
        #expect(throws: DataError.self) { try PNG.encode(width: 2, height: 2, channels: 2, pixels: [UInt8](repeating: 0, count: 8)) }
        #expect(throws: DataError.self) { try PNG.encode(width: 2, height: 2, channels: 1, pixels: [1, 2, 3]) }
        #expect(throws: DataError.self) { try PNG.encode(width: 0, height: 2, channels: 1, pixels: []) }
        #expect(throws: DataError.self) { try PNG.encode(width: 1, height: 1, channels: 1, pixels: [0], level: 12) }
    }

    @Test func writeIsAtomicAndReadable() throws {
        try withTempDir { dir in
            let path = dir + "/out.png"
            let px = randomBytes(10 * 8 * 3, seed: 35)
            try writeFile(path, Array("old contents".utf8))
            try PNG.write(to: path, width: 10, height: 8, channels: 3, pixels: px)
            let back = try FileIO.contents(of: path)
            #expect(back == (try PNG.encode(width: 10, height: 8, channels: 3, pixels: px)))
            #expect(try decodePNG(back).pixels == px)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.png"])  // no temp left
            let e = #expect(throws: DataError.self) {
                try PNG.write(to: dir + "/missing/out.png", width: 1, height: 1, channels: 1, pixels: [0])
            }
            #expect(e?.context == "out.png")
        }
    }
}

@Suite struct ImageGridTests {
    @Test func denormalisesTilesAndPads() throws {
        // Three 2×2 grey images through the batch normaliser, then back.
        let px: [UInt8] = [0, 50, 100, 255, 1, 2, 3, 4, 254, 253, 128, 127]
        let ds = try ImageDataset(channels: 1, height: 2, width: 2, pixels: px, labels: [0, 0, 0], classNames: ["x"])
        let b = try ds.batch(indices: [0, 1, 2], mean: FashionMNIST.mean, std: FashionMNIST.std)
        let g = try ImageGrid.make(images: b.images, mean: FashionMNIST.mean, std: FashionMNIST.std,
                                   columns: 2, scale: 2, padding: 1, background: 77)
        #expect(g.width == 2 * 4 + 3 && g.height == 2 * 4 + 3 && g.channels == 1)
        func at(_ x: Int, _ y: Int) -> UInt8 { g.pixels[y * g.width + x] }
        // Image 0 occupies x, y in 1...4; each source pixel is a 2×2 block.
        #expect([at(1, 1), at(2, 2), at(3, 1), at(4, 2), at(1, 3), at(3, 4)] == [0, 0, 50, 50, 100, 255])
        // Image 1 at x 6...9, row 0; image 2 at x 1...4, y 6...9.
        #expect([at(6, 1), at(8, 1), at(6, 3), at(9, 4)] == [1, 2, 3, 4])
        #expect([at(1, 6), at(3, 6), at(1, 8), at(4, 9)] == [254, 253, 128, 127])
        // Padding and the empty fourth cell keep the background.
        #expect([at(0, 0), at(5, 2), at(10, 10), at(7, 7), at(2, 5)] == [77, 77, 77, 77, 77])
    }

    @Test func clampsAndRounds() throws {
        let t = Tensor(shape: [1, 3, 1, 2], data: [10, -10, .nan, 0.5, 0.2, 0.0039])
        let g = try ImageGrid.make(images: t, mean: [0], std: [1], columns: 4, scale: 1, padding: 0)
        #expect(g.width == 2 && g.height == 1 && g.channels == 3)
        // Interleaved RGB: pixel 0 = (10→255, NaN→0, 0.2→51), pixel 1 = (−10→0, 0.5→128, 0.0039→1).
        #expect(g.pixels == [255, 0, 51, 0, 128, 1])
        let png = try decodePNG(try g.pngData())
        #expect(png.colorType == 2 && png.pixels == g.pixels)
    }

    @Test func badShapesThrow() {
        #expect(throws: DataError.self) {
            try ImageGrid.make(images: Tensor(zeros: [2, 2, 3, 3]), mean: [0], std: [1], columns: 1)
        }
        #expect(throws: DataError.self) {
            try ImageGrid.make(images: Tensor(zeros: [2, 3, 3]), mean: [0], std: [1], columns: 1)
        }
        #expect(throws: DataError.self) {
            try ImageGrid.make(images: Tensor(zeros: [2, 1, 3, 3]), mean: [0], std: [1], columns: 0)
        }
    }
}

@Suite struct HeatMapTests {
    func luminance(_ c: (UInt8, UInt8, UInt8)) -> Double {
        0.2126 * Double(c.0) + 0.7152 * Double(c.1) + 0.0722 * Double(c.2)
    }

    @Test func colormapEndsAndRisingLuminance() {
        #expect(HeatMap.color(0) == (68, 1, 84))
        #expect(HeatMap.color(1) == (253, 231, 37))
        #expect(HeatMap.color(-3) == HeatMap.color(0) && HeatMap.color(7) == HeatMap.color(1))
        let samples = (0...32).map { luminance(HeatMap.color(Float($0) / 32)) }
        for i in 1..<samples.count { #expect(samples[i] > samples[i - 1], "luminance falls at \(i)") }
    }

    @Test func rendersMinMaxNormalisedBlocks() throws {
        let img = try HeatMap.render(values: [5, 6, 7, 8], rows: 2, cols: 2, scale: 3)
        #expect(img.width == 6 && img.height == 6 && img.channels == 3)
        func at(_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8) {
            let o = (y * 6 + x) * 3
            return (img.pixels[o], img.pixels[o + 1], img.pixels[o + 2])
        }
        #expect(at(0, 0) == HeatMap.color(0) && at(2, 2) == HeatMap.color(0))
        #expect(at(3, 0) == HeatMap.color(1.0 / 3) && at(5, 2) == HeatMap.color(1.0 / 3))
        #expect(at(0, 3) == HeatMap.color(2.0 / 3))
        #expect(at(5, 5) == HeatMap.color(1))
        #expect(try decodePNG(try img.pngData()).pixels == img.pixels)
    }

    @Test func constantAndNonFiniteValues() throws {
        let flat = try HeatMap.render(values: [2, 2, 2], rows: 1, cols: 3)
        #expect(Array(flat.pixels[0..<3]) == [HeatMap.color(0.5).0, HeatMap.color(0.5).1, HeatMap.color(0.5).2])
        let nan = try HeatMap.render(values: [0, .nan, 10, .infinity], rows: 1, cols: 4)
        #expect(Array(nan.pixels[3..<6]) == [0, 0, 0] && Array(nan.pixels[9..<12]) == [0, 0, 0])
        #expect(Array(nan.pixels[6..<9]) == [253, 231, 37])  // 10 is the finite max
        #expect(throws: DataError.self) { try HeatMap.render(values: [1, 2, 3], rows: 2, cols: 2) }
        #expect(throws: DataError.self) { try HeatMap.render(values: [1], rows: 1, cols: 1, scale: 0) }
    }
}
