import Foundation
import OuroData
import Testing

/// Each split is loaded once and shared by the tests below.
enum Loaded {
    static let train = Result { try timedLoad(.train) }
    static let test = Result { try timedLoad(.test) }

    static func timedLoad(_ split: DatasetSplit) throws -> ImageDataset {
        let t0 = Date()
        let ds = try FashionMNIST.load(split: split)
        print("Fashion-MNIST \(split.rawValue): \(ds.count) images loaded in "
              + String(format: "%.3f", Date().timeIntervalSince(t0)) + " s")
        return ds
    }
}

@Suite(.enabled(if: fashionAvailable, "Fashion-MNIST not installed (dataset-fashion-mnist)"))
struct FashionMNISTTests {
    @Test func trainSplitMatchesPinnedValues() throws {
        let ds = try Loaded.train.get()
        #expect(ds.count == 60_000 && ds.channels == 1 && ds.height == 28 && ds.width == 28)
        #expect(ds.pixels.count == 60_000 * 784)
        #expect(ds.labelHistogram() == [Int](repeating: 6000, count: 10))
        #expect(Array(ds.labels.prefix(10)) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
        #expect(ds.classNames[Int(ds.labels[0])] == "Ankle boot")
        // Pinned once with an independent reader (Python gzip on the same files).
        #expect(ds.pixels.reduce(0) { $0 + Int($1) } == 3_431_114_169)
        #expect(try ds.image(at: 0).reduce(0) { $0 + Int($1) } == 76_247)
        #expect(try ds.image(at: 59_999).reduce(0) { $0 + Int($1) } == 16_684)
        #expect(fnv1a(ds.pixels[0..<(3 * 784)]) == 0xBB00_8584_0DCF_E22C)
        #expect(Array(try ds.image(at: 0)[(10 * 28)..<(11 * 28)]) ==
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 193, 228, 218, 213, 198, 180, 212, 210, 211, 213, 223, 220, 243, 202, 0])
    }

    @Test func testSplitMatchesPinnedValues() throws {
        let ds = try Loaded.test.get()
        #expect(ds.count == 10_000 && ds.pixels.count == 10_000 * 784)
        #expect(ds.labelHistogram() == [Int](repeating: 1000, count: 10))
        #expect(Array(ds.labels.prefix(10)) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        #expect(ds.pixels.reduce(0) { $0 + Int($1) } == 573_469_082)
        #expect(try ds.image(at: 0).reduce(0) { $0 + Int($1) } == 33_456)
        #expect(try ds.image(at: 9_999).reduce(0) { $0 + Int($1) } == 24_390)
        #expect(fnv1a(ds.pixels[0..<(3 * 784)]) == 0xBF8D_9E75_F0ED_8DA9)
    }

    @Test func publishedMeanAndStdMatchTrainingPixels() throws {
        let ds = try Loaded.train.get()
        var s = 0.0, ss = 0.0
        for p in ds.pixels { let v = Double(p) / 255; s += v; ss += v * v }
        let n = Double(ds.pixels.count), mean = s / n, std = (ss / n - mean * mean).squareRoot()
        #expect(abs(mean - Double(FashionMNIST.mean[0])) < 1e-6)
        #expect(abs(std - Double(FashionMNIST.std[0])) < 1e-6)
        // Normalised training batch: ≈ zero mean, unit variance.
        let b = try ds.batch(indices: Array(0..<2000), mean: FashionMNIST.mean, std: FashionMNIST.std)
        let m = b.images.data.reduce(0) { $0 + Double($1) } / Double(b.images.count)
        #expect(abs(m) < 0.05)
    }

    @Test func datasetSpecLoadsTheSameData() throws {
        let ds = try DatasetSpec(parsing: "fashion-mnist:\(FashionMNIST.defaultDirectory)").load(split: .test)
        #expect(ds == (try Loaded.test.get()))
    }
}
