import ArgumentParser
import Foundation
import OuroCheckpoint
import OuroEngine
import OuroModel

/// `ouromamba infer`: logits for the tensor `input` of a safetensors file.
struct InferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Run the FP model on a batch of images stored in safetensors.",
        discussion: """
        Reads the tensor `input` [B,C,H,W] (already normalised: it goes directly into the model)
        and writes `logits` [B,classes].

        Example:
          ouromamba infer --model vim-micro.pth --input x.safetensors --output y.safetensors
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "safetensors file with a tensor `input` [B,C,H,W].") var input: String
    @Option(name: .long, help: "Where to write `logits` (safetensors).") var output: String
    @Option(name: .long, help: "Images per forward batch.") var batch = 8
    @OptionGroup var common: CommonOptions

    func run() throws {
        let threads = common.resolvedThreads()
        try createParentDirectory(of: output)
        let (m, _) = try model.load()
        let x: Tensor
        do {
            let file = try SafeTensorsFile.read(path: input)
            guard file.contains("input") else { throw CLIError("\(input): missing key 'input' (expected a [B,C,H,W] float tensor)") }
            let t = try file.tensor("input")
            x = Tensor(shape: t.shape, data: try t.floats())
        } catch let e as CheckpointError { throw CLIError(e.description) }
        do { try m.checkInput(x, source: "\(input) key 'input'") } catch let e as ModelError { throw CLIError(e.description) }
        let logits = try m.logits(x, batchSize: batch, threads: threads)
        var w = SafeTensorsWriter()
        try w.add("logits", shape: logits.shape, floats: logits.data)
        try w.write(to: output)
        if common.json {
            Console.printJSON(["output": output, "images": x.shape[0], "classes": m.config.numClasses])
        } else {
            common.console().info("wrote logits [\(x.shape[0]), \(m.config.numClasses)] to \(output)")
        }
    }
}
