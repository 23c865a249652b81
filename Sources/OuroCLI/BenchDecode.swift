import ArgumentParser
import Foundation
import OuroData
import OuroEngine
import OuroModel
import OuroPipeline

/// `ouromamba bench decode`: images/s of JPEG/PNG decoding and preprocessing, next to the
/// model's forward pass on the same images.
struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Images/s of image decoding + preprocessing (and its share of eval's time).",
        discussion: """
        Without --data, writes --count seeded photo-like JPEGs of --synthetic-size (500x375, the \
        typical ImageNet validation size) to a temporary folder first. The model sets the output \
        geometry (channels, size) and --transform; --forward also times the FP forward on the \
        decoded images and prints decoding's share of the evaluation time.

        Example:
          ouromamba bench decode --model ../shared/fixtures/vim-tiny-shape.pth \\
              --count 64 --forward
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "imagefolder:DIR or filelist:FILE (default: synthesized JPEGs).") var data: String?
    @Option(name: .long, help: "Images to decode.") var count = 64
    @Option(name: .long, help: "WxH of the synthesized JPEGs.") var syntheticSize = "500x375"
    @Option(name: .long, help: "Write the synthesized JPEGs to this folder (an imagefolder layout) and keep them.") var keep: String?
    @Option(name: .long, help: "Images per decoded batch.") var batch = 32
    @Option(name: .long, help: "vim or none (default: vim for 224² models).") var transform: TransformChoice?
    @Flag(name: .long, help: "Also time the FP forward pass on the decoded images (batch 8).") var forward = false
    @Option(name: .long, help: "Timed repetitions (best of).") var repeats = 3
    @OptionGroup var common: CommonOptions

    func run() throws {
        let threads = common.resolvedThreads()
        let (m, path) = try model.load()
        let c = m.config
        var temp: String?
        defer { if let temp { try? FileManager.default.removeItem(atPath: temp) } }
        let spec: String
        if let data { spec = data } else {
            let dims = syntheticSize.split(separator: "x").compactMap { Int($0) }
            guard dims.count == 2, dims.allSatisfy({ $0 > 0 }) else { throw CLIError("--synthetic-size '\(syntheticSize)': expected WxH") }
            let dir = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("ouromamba-bench-\(UUID().uuidString)").path
            if keep == nil { temp = dir }
            try ExampleImages.writeFolder(dir, count: count, width: dims[0], height: dims[1], classes: max(1, min(10, c.numClasses, count)))
            spec = "imagefolder:" + dir
        }
        let source = try openDataset(spec, split: .test, config: c, transform: transform?.transform, policy: .fail)
        let n = min(count, source.count)
        guard n > 0 else { throw CLIError("\(spec): no images") }
        var decoded: [SourceBatch] = []
        let tDecode = try bestTime(repeats: repeats, warmup: 0) {
            decoded = []
            try source.forEachBatch(count: n, batch: batch, threads: threads) { part, _ in decoded.append(part) }
        }
        let bytes = n * c.channels * c.imageSize * c.imageSize
        var o: [String: Any] = ["model": path, "data": data ?? "synthesized \(syntheticSize) JPEGs", "images": n, "threads": threads,
                                "cpu": Hardware.cpuName, "decode_images_per_s": Double(n) / tDecode,
                                "decode_ms_per_image": tDecode / Double(n) * 1000]
        let t = transform?.transform ?? ImageTransform.defaultFor(imageSize: c.imageSize)
        if !common.json {
            print("\(Hardware.cpuName), \(threads) threads; \(n) images of \(data ?? "synthesized \(syntheticSize) JPEGs") → \(c.channels)×\(c.imageSize)² (transform \(t))")
            print(String(format: "decode + preprocess: %8.1f images/s  %7.2f ms/image  (%.1f MB/s of model input)",
                         Double(n) / tDecode, tDecode / Double(n) * 1000, Double(bytes) / tDecode / 1e6))
        }
        if forward {
            let norm = c.inputNormalization
            let xs = try decoded.map { try $0.images.batch(indices: Array(0..<$0.images.count), mean: norm.mean, std: norm.std).images }
            let tForward = try bestTime(repeats: max(1, repeats - 2), warmup: 0) {
                for x in xs { _ = try m.logits(x, batchSize: 8, threads: threads) }
            }
            let share = tDecode / (tDecode + tForward)
            o["forward_images_per_s"] = Double(n) / tForward
            o["decode_share_of_eval"] = share
            if !common.json {
                print(String(format: "FP32 forward:        %8.1f images/s  %7.2f ms/image", Double(n) / tForward, tForward / Double(n) * 1000))
                print(String(format: "decoding is %.1f%% of eval's time (decode + forward)", 100 * share))
            }
        }
        if common.json { Console.printJSON(o) }
    }
}

/// Seeded photo-like test images (gradients, discs, noise) written as JPEG folders.
enum ExampleImages {
    /// Writes `count` JPEGs of `width`×`height` into `dir/<class>/NNNNN.jpg`, `classes` class folders.
    static func writeFolder(_ dir: String, count: Int, width: Int, height: Int, classes: Int, seed: UInt64 = 1) throws {
        for k in 0..<classes {
            try FileManager.default.createDirectory(atPath: dir + String(format: "/class%03d", k), withIntermediateDirectories: true)
        }
        for i in 0..<count {
            var rng = Xoshiro256StarStar(seed: seed, stream: UInt64(i))
            let px = picture(width: width, height: height, rng: &rng)
            let jpg = try ImageDecoder.encodeJPEG(pixels: px, width: width, height: height, channels: 3, quality: 90)
            try FileIO.writeAtomically(jpg, to: dir + String(format: "/class%03d/%05d.jpg", i % classes, i))
        }
    }

    /// Interleaved RGB: a colour gradient, a few discs and light noise.
    static func picture(width w: Int, height h: Int, rng: inout Xoshiro256StarStar) -> [UInt8] {
        let noise = rng.normals(w * h)
        var discs: [(Float, Float, Float, [Float])] = []
        for _ in 0..<4 {
            let u = rng.normals(6)
            discs.append((Float(w) * (0.5 + 0.25 * u[0]), Float(h) * (0.5 + 0.25 * u[1]), Float(min(w, h)) * (0.1 + 0.05 * abs(u[2])),
                          [128 + 60 * u[3], 128 + 60 * u[4], 128 + 60 * u[5]]))
        }
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                var rgb: [Float] = [255 * Float(x) / Float(w), 255 * Float(y) / Float(h), 128]
                for (cx, cy, r, col) in discs where (Float(x) - cx) * (Float(x) - cx) + (Float(y) - cy) * (Float(y) - cy) < r * r { rgb = col }
                for c in 0..<3 { px[(y * w + x) * 3 + c] = UInt8(max(0, min(255, rgb[c] + 6 * noise[y * w + x]))) }
            }
        }
        return px
    }
}
