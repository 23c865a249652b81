import ArgumentParser
import Foundation
import OuroCheckpoint
import OuroData
import OuroEngine
import OuroModel
import OuroPipeline

/// `ouromamba infer`: logits for a stored tensor, or for image files.
struct InferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Run the FP model on a batch of images (a safetensors tensor, or JPEG/PNG files).",
        discussion: """
        --input reads the tensor `input` [B,C,H,W] (already normalised: it goes directly into the \
        model). --images reads JPEG/PNG files (or every image under a folder, sorted), decodes and \
        preprocesses them with --transform and the model's normalisation. Either way the output \
        holds `logits` [B,classes] and the model input `input` [B,C,H,W]; with --images its \
        metadata lists the files in order (`files`, JSON).

        Examples:
          ouromamba infer --model vim-micro.pth --input x.safetensors \\
              --output y.safetensors
          ouromamba infer --model vim_t.pth --images cat.jpg dog.png \\
              --output y.safetensors
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "safetensors file with a tensor `input` [B,C,H,W].") var input: String?
    @Option(name: .long, parsing: .upToNextOption, help: "Image files (JPEG/PNG) or folders of them.") var images: [String] = []
    @Option(name: .long, help: "Image-file transform: vim or none (default: vim for models of 224² and larger, none otherwise).")
    var transform: TransformChoice?
    @Option(name: .long, help: "Where to write `logits` and `input` (safetensors, atomically).") var output: String
    @Option(name: .long, help: "Images per forward batch.") var batch = 8
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if (input == nil) == images.isEmpty { throw ValidationError("give exactly one of --input FILE and --images FILE…|DIR") }
        if batch < 1 { throw ValidationError("--batch must be ≥ 1") }
    }

    func run() throws {
        let threads = common.resolvedThreads()
        try createParentDirectory(of: output)
        let (m, _) = try model.load()
        let x: Tensor
        var files: [String] = []
        if let input {
            do {
                let file = try SafeTensorsFile.read(path: input)
                guard file.contains("input") else { throw CLIError("\(input): missing key 'input' (expected a [B,C,H,W] float tensor)") }
                let t = try file.tensor("input")
                x = Tensor(shape: t.shape, data: try t.floats())
            } catch let e as CheckpointError { throw CLIError(e.description) }
            do { try m.checkInput(x, source: "\(input) key 'input'") } catch let e as ModelError { throw CLIError(e.description) }
        } else {
            let c = m.config
            let source: ImageFileSource
            do {
                source = try ImageFileSource.files(images, channels: c.channels, size: c.imageSize,
                                                   transform: transform?.transform ?? ImageTransform.defaultFor(imageSize: c.imageSize))
            } catch let e as DataError { throw CLIError(e.description) }
            let norm = c.inputNormalization
            let part = try source.read(Array(0..<source.count), threads: threads)
            x = try part.images.batch(indices: Array(0..<part.images.count), mean: norm.mean, std: norm.std).images
            files = source.entries.map(\.path)
        }
        let logits = try m.logits(x, batchSize: batch, threads: threads)
        var w = SafeTensorsWriter()
        if !files.isEmpty {
            let list = try JSONSerialization.data(withJSONObject: files, options: [.withoutEscapingSlashes])
            w.metadata["files"] = String(decoding: list, as: UTF8.self)
        }
        try w.add("logits", shape: logits.shape, floats: logits.data)
        try w.add("input", shape: x.shape, floats: x.data)
        try w.write(to: output)
        if common.json {
            Console.printJSON(["output": output, "images": x.shape[0], "classes": m.config.numClasses])
        } else {
            common.console().info("wrote logits [\(x.shape[0]), \(m.config.numClasses)] and input \(x.shape) to \(output)")
        }
    }
}
