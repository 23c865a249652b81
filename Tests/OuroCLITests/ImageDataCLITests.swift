import Foundation
import OuroCheckpoint
import OuroData
import OuroTestSupport
import Testing

/// `--data imagefolder:/filelist:`, `--transform`, `--skip-bad`, `real:N@DATASET` and `infer --images`, end to end.
/// What the image-data CLI tests need; under CI=true they run (and fail) when it is missing.
enum ImageDataPrerequisites {
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let tiny = Fixtures.path("vim-tiny-shape.pth")
    static let fashion = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    static var ready: Bool {
        CLI.binary != nil && tiny.map { FileManager.default.fileExists(atPath: $0) } == true && FileManager.default.fileExists(atPath: fashion)
    }
    static var enabled: Bool { ready || isCI }
}

@Suite(.serialized, .enabled(if: ImageDataPrerequisites.enabled, "needs the ouromamba binary, ../shared/fixtures and dataset-fashion-mnist"))
struct ImageDataCLITests {
    static var tiny: String? { ImageDataPrerequisites.tiny }

    func requireReady() throws {
        try #require(ImageDataPrerequisites.ready, "missing the binary, ../shared/fixtures or dataset-fashion-mnist (CI=true)")
    }

    func tmp(_ name: String) -> String { CLITests().tmp("img-" + name) }
    func json(_ r: CLI.Result, _ cmd: String) throws -> [String: Any] { try CLITests().json(r, cmd) }

    /// Fashion-MNIST test images 0..<count written as PNGs in an imagefolder layout
    /// (`<label>/<index>.png`), returned with the folder's file order.
    func fashionFolder(_ dir: String, count: Int) throws -> [Int] {
        let test = try FashionMNIST.load(split: .test)
        for k in 0..<10 { try FileManager.default.createDirectory(atPath: dir + "/\(k)", withIntermediateDirectories: true) }
        for i in 0..<count {
            try RasterImage(width: 28, height: 28, channels: 1, pixels: Array(try test.image(at: i)))
                .writePNG(to: dir + "/\(test.labels[i])/" + String(format: "%05d.png", i))
        }
        return (0..<10).flatMap { k in (0..<count).filter { test.labels[$0] == Int32(k) } }
    }

    /// 1,000 Fashion-MNIST test images as PNG files give exactly the IDX top-1 and logits.
    @Test func pngFolderMatchesIDX() throws {
        try requireReady()
        let dir = tmp("fashion")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let order = try fashionFolder(dir + "/folder", count: 1000)
        let idx = try json(try CLI.run(["eval", "--limit", "1000", "--json"]), "eval IDX")
        let png = try json(try CLI.run(["eval", "--data", "imagefolder:" + dir + "/folder", "--transform", "none", "--json"]), "eval folder")
        #expect((png["samples"] as? Int) == 1000)
        #expect((png["correct"] as? Int) == (idx["correct"] as? Int))
        #expect((png["top1"] as? Double) == (idx["top1"] as? Double))

        // Logits: infer on the PNG folder vs infer on the same IDX images as a tensor.
        let test = try FashionMNIST.load(split: .test)
        let x = try test.batch(indices: order, mean: FashionMNIST.mean, std: FashionMNIST.std).images
        var w = SafeTensorsWriter()
        try w.add("input", shape: x.shape, floats: x.data)
        try w.write(to: dir + "/x.safetensors")
        _ = try json(try CLI.run(["infer", "--input", dir + "/x.safetensors", "--output", dir + "/idx.safetensors", "--json"]), "infer IDX")
        _ = try json(try CLI.run(["infer", "--images", dir + "/folder", "--transform", "none", "--output", dir + "/png.safetensors", "--json"]), "infer images")
        let a = try SafeTensorsFile.read(path: dir + "/idx.safetensors"), b = try SafeTensorsFile.read(path: dir + "/png.safetensors")
        #expect(try b.tensor("input").floats() == x.data)
        #expect(try a.tensor("logits").floats() == b.tensor("logits").floats())
        #expect(b.shape(of: "logits") == [1000, 10])
        let listed = try #require(b.metadata["files"])
        let files = try #require(try JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [String])
        #expect(files.count == 1000)
        #expect(files.first == dir + "/folder/0/" + String(format: "%05d.png", order[0]))
    }

    /// vim-tiny-shape (3×224²) evaluates and calibrates on a folder of mixed-size JPEGs,
    /// RGB, grayscale and CMYK, through the Vim transform.
    @Test func vimTinyOnMixedJPEGs() throws {
        try requireReady()
        let dir = tmp("jpegs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 18 images: RGB, grayscale and CMYK in turn, landscape, portrait and square, one progressive.
        let sizes = [(300, 200), (181, 257), (224, 224), (401, 223), (150, 330), (260, 261)]
            + (0..<12).map { (230 + 13 * $0, 250 - 5 * $0) }
        for (i, (w, h)) in sizes.enumerated() {
            let cls = dir + "/data/" + ["n01440764", "n01443537", "n01484850"][i % 3]
            try FileManager.default.createDirectory(atPath: cls, withIntermediateDirectories: true)
            let channels = [3, 1, 4][(i + i / 3) % 3]
            let px = (0..<(w * h * channels)).map { UInt8(truncatingIfNeeded: ($0 / channels % w) &* 3 &+ ($0 / (w * channels)) &* 2 &+ $0 % channels &* 50) }
            try writeFile(cls + "/img\(i).JPEG", try ImageDecoder.encodeJPEG(pixels: px, width: w, height: h, channels: channels, progressive: i == 3))
        }
        let tiny = try #require(Self.tiny)
        let ev = try json(try CLI.run(["eval", "--model", tiny, "--data", "imagefolder:" + dir + "/data", "--batch", "4", "--json"], timeout: 600), "eval vim-tiny")
        #expect((ev["samples"] as? Int) == sizes.count)
        let q = try json(try CLI.run(["quantize", "--model", tiny, "--calib", "real:16@imagefolder:" + dir + "/data", "--method", "static-minmax",
                                      "--setting", "w4a8", "--no-report", "--out", dir + "/q.safetensors", "--json"], timeout: 900), "quantize vim-tiny")
        #expect((q["calib_count"] as? Int) == 16)
        #expect((q["calib_source"] as? String) == "real:16@imagefolder:" + dir + "/data")
        // The transformed input: 3×224² and ImageNet-normalised (a white pixel is (1 − 0.485) / 0.229).
        _ = try json(try CLI.run(["infer", "--model", tiny, "--images", dir + "/data/n01440764", "--output", dir + "/y.safetensors", "--json"], timeout: 600), "infer")
        let y = try SafeTensorsFile.read(path: dir + "/y.safetensors")
        #expect(y.shape(of: "input") == [6, 3, 224, 224])
        #expect(y.shape(of: "logits") == [6, 1000])
        let mx = try y.tensor("input").floats().max() ?? 0
        #expect(mx <= (1 - 0.406) / 0.225 + 1e-5 && mx > 1)
    }

    /// A corrupt image stops eval with its path and exit 1; --skip-bad counts and lists it.
    @Test func badImagesFailOrAreListed() throws {
        try requireReady()
        let dir = tmp("bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try fashionFolder(dir, count: 40)
        try writeFile(dir + "/3/broken.png", Array("not a png".utf8))
        try FileManager.default.createDirectory(atPath: dir + "/7/empty-sub", withIntermediateDirectories: true)
        let fail = try CLI.run(["eval", "--data", "imagefolder:" + dir, "--transform", "none", "--json"])
        #expect(fail.status == 1)
        #expect(fail.stderr.contains(dir + "/3/broken.png") && fail.stderr.contains("not a JPEG or PNG"), "\(fail.stderr)")
        let skip = try json(try CLI.run(["eval", "--data", "imagefolder:" + dir, "--transform", "none", "--skip-bad", "--json"]), "eval --skip-bad")
        #expect((skip["samples"] as? Int) == 40)
        #expect((skip["skipped"] as? Int) == 1)
        let bad = try #require(skip["bad_files"] as? [[String: String]])
        #expect(bad.first?["path"] == dir + "/3/broken.png")
        // A label out of range in a file list, and a bad --transform value (usage error, exit 2).
        try writeFile(dir + "/list.txt", Array("0/\(try FileManager.default.contentsOfDirectory(atPath: dir + "/0").sorted()[0]) 12\n".utf8))
        let range = try CLI.run(["eval", "--data", "filelist:" + dir + "/list.txt", "--transform", "none"])
        #expect(range.status == 1 && range.stderr.contains("label 12 is out of range"), "\(range.stderr)")
        let usage = try CLI.run(["eval", "--data", "imagefolder:" + dir, "--transform", "bicubic"])
        #expect(usage.status == 2)
        let calib = try CLI.run(["quantize", "--calib", "real:41@imagefolder:" + dir, "--out", dir + "/q.safetensors", "--skip-bad"])
        #expect(calib.status == 1 && calib.stderr.contains("broken.png"), "\(calib.stderr.prefix(300))")
    }

    /// real:N@imagefolder on 2 local worker processes gives the in-process artifact, byte for byte.
    @Test func realFolderCalibrationOnWorkers() throws {
        try requireReady()
        let dir = tmp("workers")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try fashionFolder(dir + "/data", count: 60)
        let calib = "real:16@imagefolder:" + dir + "/data"
        _ = try json(try CLI.run(["quantize", "--calib", calib, "--seed", "3", "--threads", "1", "--no-report", "--out", dir + "/a/q.safetensors", "--json"]), "in-process")
        _ = try json(try CLI.run(["quantize", "--calib", calib, "--seed", "3", "--workers", "2", "--no-report", "--out", dir + "/b/q.safetensors", "--json"]), "2 workers")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a/q.safetensors")), b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b/q.safetensors"))
        #expect(a == b)
        let meta = try SafeTensorsFile.read(path: dir + "/a/q.safetensors").metadata
        #expect(meta["calib_source"] == calib)
    }
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
