import OuroData
import Testing

/// The loader on small hand-made files (needs no installed dataset).
@Suite struct LoaderErrorTests {
    @Test func fakeSplitLoadsExactly() throws {
        try withTempDir { dir in
            let px = randomBytes(3 * 28 * 28, seed: 9)
            try writeFakeSplit(dir: dir, split: .test, images: px, count: 3, labels: [9, 0, 4])
            let ds = try FashionMNIST.load(directory: dir, split: .test)
            #expect(ds.count == 3 && ds.channels == 1 && ds.height == 28 && ds.width == 28)
            #expect(ds.pixels == px && ds.labels == [9, 0, 4])
            #expect(ds.classNames[9] == "Ankle boot")
            #expect(try ds.image(at: 2) == px[(2 * 784)...])
        }
    }

    @Test func wrongImagesMagicIsNamed() throws {
        try withTempDir { dir in
            try writeFakeSplit(dir: dir, split: .train, images: [UInt8](repeating: 0, count: 784), count: 1,
                               labels: [0], imagesMagic: 0x802)
            let e = #expect(throws: DataError.self) { try FashionMNIST.load(directory: dir, split: .train) }
            #expect(e?.description == "train-images-idx3-ubyte.gz: bad IDX magic 0x00000802, expected 0x00000803 (images)")
        }
    }

    @Test func truncatedGzipFileIsNamed() throws {
        try withTempDir { dir in
            try writeFakeSplit(dir: dir, split: .train, images: randomBytes(2 * 784, seed: 10), count: 2, labels: [1, 2])
            let f = FashionMNIST.files(directory: dir, split: .train)
            let gz = try FileIO.contents(of: f.images)
            try writeFile(f.images, Array(gz[..<(gz.count - 30)]))
            let e = #expect(throws: DataError.self) { try FashionMNIST.load(directory: dir, split: .train) }
            #expect(e?.context == "train-images-idx3-ubyte.gz")
            #expect(e?.message.contains("truncated gzip") == true)
        }
    }

    @Test func truncatedIDXBodyIsNamed() throws {
        try withTempDir { dir in
            try writeFakeSplit(dir: dir, split: .train, images: [], count: 0, labels: [])
            let f = FashionMNIST.files(directory: dir, split: .train)
            // Header claims 2 images but only one and a half follow (valid gzip, short IDX).
            var idx = try IDX.encode(dims: [2, 28, 28], data: [UInt8](repeating: 1, count: 2 * 784))
            idx.removeLast(392)
            try writeFile(f.images, try Zlib.deflate(idx, format: .gzip))
            let e = #expect(throws: DataError.self) { try FashionMNIST.load(directory: dir, split: .train) }
            #expect(e?.description == "train-images-idx3-ubyte.gz: truncated IDX body: 1176 data bytes, expected 1568 for dims 2×28×28")
        }
    }

    @Test func labelCountAndRangeAreChecked() throws {
        try withTempDir { dir in
            try writeFakeSplit(dir: dir, split: .test, images: randomBytes(2 * 784, seed: 11), count: 2, labels: [1])
            let count = #expect(throws: DataError.self) { try FashionMNIST.load(directory: dir, split: .test) }
            #expect(count?.context == "t10k-labels-idx1-ubyte.gz")
            try writeFakeSplit(dir: dir, split: .test, images: randomBytes(2 * 784, seed: 11), count: 2, labels: [1, 10])
            let range = #expect(throws: DataError.self) { try FashionMNIST.load(directory: dir, split: .test) }
            #expect(range?.message.contains("label 10 at index 1") == true)
        }
    }

    @Test func missingDirectoryIsNamed() {
        let e = #expect(throws: DataError.self) { try FashionMNIST.load(directory: "/nonexistent/fmnist", split: .test) }
        #expect(e?.message.contains("/nonexistent/fmnist/t10k-images-idx3-ubyte.gz") == true)
        #expect(!FashionMNIST.isAvailable(directory: "/nonexistent/fmnist"))
    }
}
