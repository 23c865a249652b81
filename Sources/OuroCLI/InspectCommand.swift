import ArgumentParser
import Foundation
import OuroData
import OuroEngine
import OuroGen
import OuroModel
import OuroPipeline
import OuroQuant

/// `ouromamba inspect`: pictures and summaries of a model and its quantization.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Inspect a model: summary, implicit attention, outlier channels.",
        subcommands: [InspectModel.self, InspectAttention.self, InspectOutliers.self])
}

/// An input image: a test image of the dataset, or image `index` of a samples file.
struct ImageChoice: ParsableArguments {
    @Option(name: .long, help: "Samples directory/file (from generate); default: an image of --data.") var samples: String?
    @Option(name: .long, help: "Image index.") var image = 0
    @OptionGroup var dataset: DataOptions

    func load(for m: VisionMamba) throws -> Tensor {
        if let samples {
            let s = try clusterCLI { try SampleSet.read(samples) }
            guard image >= 0 && image < s.images.shape[0] else { throw CLIError("--image \(image): \(samples) has \(s.images.shape[0]) images") }
            let x = s.images.slice(outer: image, count: 1)
            do { try m.checkInput(x, source: samples) } catch let e as ModelError { throw CLIError(e.description) }
            return x
        }
        let test = try dataset.open(for: m.config)
        guard image >= 0 && image < test.count else { throw CLIError("--image \(image): \(dataset.data) has \(test.count) images") }
        let norm = m.config.inputNormalization
        let part: SourceBatch
        do { part = try test.read([image], threads: 1) } catch let e as DataError { throw CLIError(e.description) }
        guard part.images.count == 1 else { throw CLIError("--image \(image): \(part.bad.first?.description ?? "unreadable")") }
        return try part.images.batch(indices: [0], mean: norm.mean, std: norm.std).images
    }
}

struct InspectModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Print a model summary: config, parameter count, per-layer shapes.",
        discussion: "Example:\n  ouromamba inspect model --model ../shared/fixtures/vim-tiny-shape.pth")
    @OptionGroup var model: ModelOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        let (m, path) = try model.load()
        let c = m.config
        let shapes = VisionMambaWeights.parameterShapes(c)
        if common.json {
            Console.printJSON(["model": path, "parameters": m.weights.parameterCount, "config": c.jsonObject(),
                               "tensors": shapes.count])
            return
        }
        print("model \(path)")
        print("  image \(c.channels)×\(c.imageSize)×\(c.imageSize), patch \(c.patchSize) stride \(c.stride) → grid \(c.gridSize)×\(c.gridSize), L = \(c.seqLen), cls at \(c.clsIndex)")
        print("  D = \(c.embedDim), depth \(c.depth), E = \(c.dInner), N = \(c.dState), R = \(c.dtRank), K = \(c.dConv), classes \(c.numClasses)")
        print("  parameters \(m.weights.parameterCount) in \(shapes.count) tensors; GEMM work \(String(format: "%.3f", ModelCost.gemmFlops(c) / 1e9)) GFLOP/image")
        print("  per layer:")
        for (name, shape) in shapes where name.hasPrefix("layers.0.") {
            print("    \(name.replacingOccurrences(of: "layers.0.", with: "layers.*.")) \(shape)")
        }
        for (name, shape) in shapes where !name.hasPrefix("layers.") { print("  \(name) \(shape)") }
    }
}

struct InspectAttention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention", abstract: "Write implicit vs patched attention heat maps (PNG) for one image and layer.",
        discussion: "Example:\n  ouromamba inspect attention --layer 3 --image 0 --out runs/attention")
    @OptionGroup var model: ModelOptions
    @OptionGroup var choice: ImageChoice
    @Option(name: .long, help: "Layer.") var layer = 0
    @Option(name: .long, help: "Output folder.") var out: String
    @OptionGroup var common: CommonOptions

    func run() throws {
        let threads = common.resolvedThreads()
        let (m, _) = try model.load()
        let x = try choice.load(for: m)
        let a = try clusterCLI { try ImplicitAttention.maps(model: m, images: x, image: 0, layer: layer, threads: threads) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let scale = max(1, 224 / a.gridSide)
        let files = [("attention-standard.png", a.standardGrid), ("attention-patched.png", a.patchedGrid)]
        for (name, v) in files {
            try HeatMap.render(values: v, rows: a.gridSide, cols: a.gridSide, scale: scale).writePNG(to: out + "/" + name)
        }
        try HeatMap.render(values: a.standard, rows: a.length, cols: a.length, scale: max(1, 400 / a.length))
            .writePNG(to: out + "/attention-matrix.png")
        if common.json {
            Console.printJSON(["out": out, "layer": layer, "files": files.map { $0.0 } + ["attention-matrix.png"]])
        } else {
            common.console().result("wrote \(out)/attention-standard.png, attention-patched.png (\(a.gridSide)×\(a.gridSide) patch grid) and attention-matrix.png (\(a.length)×\(a.length))")
        }
    }
}

struct InspectOutliers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outliers", abstract: "Write the outlier-channel map (channels × time steps, PNG) of a quantized model.",
        discussion: "Example:\n  ouromamba inspect outliers --quantized q.safetensors --layer 2 --point out --out runs/outliers")
    @OptionGroup var model: ModelOptions
    @OptionGroup var choice: ImageChoice
    @Option(name: .long, help: "Quantized artifact.") var quantized: String
    @Option(name: .long, help: "Layer.") var layer = 0
    @Option(name: .long, help: "Point: in, out, xproj.f, xproj.b, dtproj.f, dtproj.b, delta.f, delta.b, B.f, B.b, C.f, C.b.") var point = "out"
    @Option(name: .long, help: "Output folder.") var out: String
    @OptionGroup var common: CommonOptions

    func run() throws {
        let threads = common.resolvedThreads()
        let (m, path) = try model.load()
        let q = try cliQuant { try QuantArtifact.read(path: quantized) }
        try QuantEvaluation.checkSource(q, model: m, modelPath: path, artifact: quantized)
        guard let pt = ActivationPoint.all.first(where: { $0.description == point }) else {
            throw CLIError("--point '\(point)': expected one of \(ActivationPoint.all.map(\.description).joined(separator: ", "))")
        }
        guard layer >= 0 && layer < m.config.depth else { throw CLIError("--layer \(layer): the model has layers 0..<\(m.config.depth)") }
        let x = try choice.load(for: m)
        let map = try ReportCollector.outlierMap(q, image: x, layer: layer, point: pt, threads: threads)
        // Rows = channels, columns = steps; window boundaries drawn as grey columns.
        let cell = 4, w = map.steps * cell, h = map.channels * cell
        var px = [UInt8](repeating: 245, count: w * h * 3)
        for t in 0..<map.steps {
            for ch in 0..<map.channels {
                let on = map.mask[t * map.channels + ch] != 0
                let boundary = t % map.nRefresh == 0
                for dy in 0..<cell { for dx in 0..<cell {
                    let i = ((ch * cell + dy) * w + t * cell + dx) * 3
                    if on { px[i] = 194; px[i + 1] = 59; px[i + 2] = 59 }
                    else if boundary && dx == 0 { px[i] = 150; px[i + 1] = 150; px[i + 2] = 150 }
                }}
            }
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let file = out + "/outliers-layer\(layer)-\(point).png"
        try RasterImage(width: w, height: h, channels: 3, pixels: px).writePNG(to: file)
        let frac = Double(map.mask.reduce(0) { $0 + Int($1) }) / Double(map.mask.count)
        if common.json { Console.printJSON(["out": file, "layer": layer, "point": point, "outlier_fraction": frac]) }
        else { common.console().result(String(format: "wrote %@ (%d channels × %d steps, %.2f%% outlier entries)", file, map.channels, map.steps, 100 * frac)) }
    }
}
