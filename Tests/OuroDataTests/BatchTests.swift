import OuroData
import OuroEngine
import Testing

/// A tiny dataset: `n` images of c×h×w seeded random bytes, labels i % 3.
func tinyDataset(n: Int = 4, c: Int = 1, h: Int = 6, w: Int = 5, seed: UInt64 = 20) throws -> ImageDataset {
    try ImageDataset(channels: c, height: h, width: w, pixels: randomBytes(n * c * h * w, seed: seed),
                     labels: (0..<n).map { Int32($0 % 3) }, classNames: ["a", "b", "c"])
}

@Suite struct BatchTests {
    @Test func normalisesWithTheDocumentedFormula() throws {
        let ds = try tinyDataset()
        let b = try ds.batch(indices: [2, 0, 2], mean: [0.3], std: [0.4])
        #expect(b.images.shape == [3, 1, 6, 5])
        #expect(b.labels == [2, 0, 2])
        let img2 = try ds.image(at: 2), img0 = try ds.image(at: 0)
        for k in 0..<30 {
            #expect(b.images.data[k] == (Float(img2[img2.startIndex + k]) / 255 - 0.3) / 0.4)
            #expect(b.images.data[30 + k] == (Float(img0[img0.startIndex + k]) / 255 - 0.3) / 0.4)
        }
        #expect(Array(b.images.data[60...]) == Array(b.images.data[..<30]))
    }

    @Test func perChannelMeanAndStd() throws {
        let ds = try tinyDataset(n: 2, c: 3, h: 2, w: 2)
        let mean: [Float] = [0.1, 0.5, 0.9], std: [Float] = [0.2, 0.3, 0.4]
        let b = try ds.batch(indices: [1], mean: mean, std: std)
        let img = Array(try ds.image(at: 1))
        for c in 0..<3 {
            for k in 0..<4 {
                #expect(b.images.data[c * 4 + k] == (Float(img[c * 4 + k]) / 255 - mean[c]) / std[c])
            }
        }
        // A single value broadcasts.
        let one = try ds.batch(indices: [1], mean: [0.5], std: [0.25])
        let bcast = try ds.batch(indices: [1], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        #expect(one.images == bcast.images)
    }

    @Test func badArgumentsThrow() throws {
        let ds = try tinyDataset(c: 3)
        var rng = Xoshiro256StarStar(seed: 1)
        #expect(throws: DataError.self) { try ds.batch(indices: [4], mean: [0], std: [1]) }
        #expect(throws: DataError.self) { try ds.batch(indices: [-1], mean: [0], std: [1]) }
        let e = #expect(throws: DataError.self) { try ds.batch(indices: [0], mean: [0, 0], std: [1]) }
        #expect(e?.message.contains("expected 1 or 3") == true)
        #expect(throws: DataError.self) { try ds.batch(indices: [0], mean: [0], std: [0]) }
        #expect(throws: DataError.self) { try ds.batch(indices: [0], mean: [.nan], std: [1]) }
        #expect(throws: DataError.self) {
            try ds.batch(indices: [0], mean: [0], std: [1], augment: Augmentation(maxShift: -1), rng: &rng)
        }
        #expect(try ds.batch(indices: [], mean: [0], std: [1]).images.shape == [0, 3, 6, 5])
    }

    @Test func datasetInitValidates() {
        #expect(throws: DataError.self) {
            try ImageDataset(channels: 1, height: 2, width: 2, pixels: [1, 2, 3], labels: [0], classNames: ["x"])
        }
        #expect(throws: DataError.self) {
            try ImageDataset(channels: 1, height: 1, width: 1, pixels: [1], labels: [1], classNames: ["x"])
        }
    }
}

@Suite struct AugmentationTests {
    let h = 6, w = 5

    /// An image that is 0 except `value` at (y, x).
    func dot(y: Int, x: Int, value: UInt8 = 200) -> [UInt8] {
        var img = [UInt8](repeating: 0, count: h * w)
        img[y * w + x] = value
        return img
    }

    @Test func identityTransformIsIdentity() throws {
        let ds = try tinyDataset()
        var rng = Xoshiro256StarStar(seed: 3)
        let aug = try ds.batch(indices: [0, 1, 2, 3], mean: [0.2], std: [0.5],
                               augment: Augmentation(maxShift: 0, flipProbability: 0), rng: &rng)
        let plain = try ds.batch(indices: [0, 1, 2, 3], mean: [0.2], std: [0.5])
        #expect(aug.images == plain.images)
        let img = Array(try ds.image(at: 1))
        #expect(try Augmentation.apply(.identity, to: img, channels: 1, height: h, width: w) == img)
    }

    @Test func flipTwiceIsIdentity() throws {
        let ds = try tinyDataset(c: 3)
        let img = Array(try ds.image(at: 3))
        let flip = Augmentation.Transform(flip: true)
        let once = try Augmentation.apply(flip, to: img, channels: 3, height: h, width: w)
        #expect(once != img)
        #expect(try Augmentation.apply(flip, to: once, channels: 3, height: h, width: w) == img)
        // Row 0 of channel 2 is mirrored.
        #expect(Array(once[(2 * h * w)..<(2 * h * w + w)]) == Array(img[(2 * h * w)..<(2 * h * w + w)].reversed()))
    }

    @Test func shiftMovesAKnownPixel() throws {
        let img = dot(y: 2, x: 1)
        let shifted = try Augmentation.apply(.init(dx: 2, dy: -1), to: img, channels: 1, height: h, width: w)
        #expect(shifted == dot(y: 1, x: 3))
        // Flip first (x → w−1−x = 3), then shift by dx = −2 → x = 1.
        let both = try Augmentation.apply(.init(dx: -2, dy: 2, flip: true), to: img, channels: 1, height: h, width: w)
        #expect(both == dot(y: 4, x: 1))
        // Shifted out of the frame: all zero.
        let gone = try Augmentation.apply(.init(dx: 4, dy: 0), to: img, channels: 1, height: h, width: w)
        #expect(gone.allSatisfy { $0 == 0 })
        #expect(throws: DataError.self) { try Augmentation.apply(.identity, to: img, channels: 2, height: h, width: w) }
    }

    @Test func zeroFillIsNormalisedBlack() throws {
        let ds = try ImageDataset(channels: 1, height: h, width: w, pixels: [UInt8](repeating: 255, count: h * w),
                                  labels: [0], classNames: ["x"])
        // Find a seed whose first draw shifts right by ≥ 1 and check the left column.
        var seed: UInt64 = 0
        while true {
            var probe = Xoshiro256StarStar(seed: seed)
            if Augmentation().draw(using: &probe).dx >= 1 { break }
            seed += 1
        }
        var rng = Xoshiro256StarStar(seed: seed)
        let b = try ds.batch(indices: [0], mean: [0.25], std: [0.5], augment: Augmentation(), rng: &rng)
        for y in 0..<h { #expect(b.images.data[y * w] == (0 - 0.25) / 0.5) }
        #expect(b.images.data.contains((1 - 0.25) / 0.5))
    }

    @Test func drawsAreDeterministicAndCoverTheRange() {
        var r1 = Xoshiro256StarStar(seed: 11), r2 = Xoshiro256StarStar(seed: 11)
        let aug = Augmentation()
        let a = (0..<2000).map { _ in aug.draw(using: &r1) }
        let b = (0..<2000).map { _ in aug.draw(using: &r2) }
        #expect(a == b)
        #expect(Set(a.map(\.dx)) == Set(-2...2) && Set(a.map(\.dy)) == Set(-2...2))
        let flips = Double(a.filter(\.flip).count) / 2000
        #expect(flips > 0.45 && flips < 0.55)
        var r3 = Xoshiro256StarStar(seed: 11)
        #expect((0..<10).map { _ in Augmentation(maxShift: 0, flipProbability: 1).draw(using: &r3) }
                .allSatisfy { $0 == .init(flip: true) })
    }

    @Test func augmentedBatchesAreDeterministicFromTheRng() throws {
        let ds = try tinyDataset(n: 8)
        var r1 = Xoshiro256StarStar(seed: 5, stream: 1), r2 = Xoshiro256StarStar(seed: 5, stream: 1)
        let idx = Array(0..<8)
        let a = try ds.batch(indices: idx, mean: [0.5], std: [0.5], augment: Augmentation(), rng: &r1)
        let b = try ds.batch(indices: idx, mean: [0.5], std: [0.5], augment: Augmentation(), rng: &r2)
        #expect(a.images == b.images && a.labels == b.labels)
        #expect(r1.next() == r2.next())
        let plain = try ds.batch(indices: idx, mean: [0.5], std: [0.5])
        #expect(a.images != plain.images)
        // Each image equals apply(draw) of the same rng sequence.
        var r3 = Xoshiro256StarStar(seed: 5, stream: 1)
        for i in idx {
            let t = Augmentation().draw(using: &r3)
            let img = try Augmentation.apply(t, to: try ds.image(at: i), channels: 1, height: 6, width: 5)
            let expected = img.map { (Float($0) / 255 - 0.5) / 0.5 }
            #expect(Array(a.images.data[(i * 30)..<((i + 1) * 30)]) == expected)
        }
    }
}
