import ArgumentParser
import Foundation
import OuroCheckpoint
import OuroCluster
import OuroEngine
import OuroGen
import OuroModel
import OuroPipeline

/// `ouromamba generate`: synthetic calibration images from the frozen model.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate data-free calibration images (OuroMamba-Gen).",
        discussion: """
        Writes DIR/samples.safetensors (images [N,C,H,W] in normalised space, labels [N]), \
        DIR/meta.json (generator, hyper-parameters, seeds, model sha256, loss curve) and \
        DIR/preview.png. Samples are made in independent blocks of 8 with per-sample seeds, so \
        the same model, config and seed give bit-identical files.

        Examples:
          ouromamba generate --count 128 --method ouromamba --out runs/gen
          ouromamba generate --count 16 --iterations 50 --method pse --out runs/pse
        """)

    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Number of samples.") var count = 128
    @Option(name: .long, help: "Generator.") var method: GeneratorKind = .ouromamba
    @Option(name: .long, help: "Defaults the other Gen options change: recommended (the project's, docs/method-notes.md) or spec (method.md §3.12).")
    var genDefaults: GenDefaults = .recommended
    @Option(name: .long, help: "Adam iterations (default: 200 in the recommended defaults, 500 in the spec's).") var iterations: Int?
    @Option(name: .long, help: "Master seed.") var seed: UInt64 = 0
    @Option(name: .long, help: "Adam learning rate (default: 0.05 in the recommended defaults, 0.25 in the spec's).") var lr: Float?
    @Option(name: .long, help: "Weight of the output loss λ_O (default: 1).") var lambdaO: Float?
    @Option(name: .long, help: "Output loss: ce (default) or mae.") var outputLoss: String?
    @Flag(name: .long, inversion: .prefixedNo,
          help: "After every Adam step, clamp the pixels to the valid input range (de-normalised [0, 1]); on in the recommended defaults, off in the spec's.")
    var clampValidRange: Bool?
    @Option(name: .long, help: "Weight of a total-variation prior (mean squared neighbour difference); off by default.") var tvWeight: Float?
    @Option(name: .long, help: "Weight of an L2 prior (mean squared pixel); off by default.") var l2Weight: Float?
    @Option(name: .long, help: "Random circular shift of up to ±N pixels before every objective evaluation; off by default.") var jitter: Int?
    @Flag(name: .long, inversion: .prefixedNo, help: "Random horizontal flips before every objective evaluation; off by default.")
    var flip: Bool?
    @Option(name: .long, help: "Layers entering the contrastive loss, comma-separated (default: all).") var contrastLayers: String?
    @Option(name: .long, help: "Contrastive candidate window K (odd; the spec's 5).") var contrastWindow: Int?
    @Option(name: .long, help: "Positives per full window k (the spec's 12).") var contrastTopk: Int?
    @Option(name: .long, help: "Output directory.") var out: String
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be ≥ 1") }
        if let iterations, iterations < 0 { throw ValidationError("--iterations must be ≥ 0") }
        if let contrastLayers, contrastLayers.split(separator: ",").contains(where: { Int($0.trimmingCharacters(in: .whitespaces)) == nil }) {
            throw ValidationError("--contrast-layers must be comma-separated layer indices, e.g. 0,2,5")
        }
    }

    func genConfig() -> GenConfig {
        var c = GenConfig(defaults: genDefaults)
        c.generator = method
        c.samples = count; c.seed = seed
        if let iterations { c.iterations = iterations }
        if let lr { c.lr = lr }
        if let lambdaO { c.lambdaO = lambdaO }
        if let outputLoss { c.outputLoss = outputLoss }
        if let clampValidRange { c.clampValidRange = clampValidRange }
        if let tvWeight { c.tvWeight = tvWeight }
        if let l2Weight { c.l2Weight = l2Weight }
        if let jitter { c.jitter = jitter }
        if let flip { c.flip = flip ? true : nil }
        if let contrastLayers { c.contrastLayers = contrastLayers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
        if let contrastWindow { c.contrastNbhd = contrastWindow }
        if let contrastTopk { c.contrastTopk = contrastTopk }
        return c
    }

    @OptionGroup var cluster: LocalClusterOptions

    func run() throws {
        let resolved = try device.resolve(command: "generate", gpuImplemented: cluster.workers == nil, console: common.console())
        let console = common.console()
        let (m, path) = try model.load()
        let sha = try fileSHA256(path)
        let cfg = genConfig()
        if let ls = cfg.contrastLayers, let bad = ls.first(where: { !(0..<m.config.depth).contains($0) }) {
            throw CLIError("--contrast-layers: layer \(bad) does not exist, the model has layers 0…\(m.config.depth - 1)")
        }
        do { try cfg.validate() } catch { throw CLIError("\(error)") }
        let threads = cluster.computeThreads(common)
        let plan = JobPlan.generate(cfg, directory: out, meta: cluster.sampleMeta(modelPath: path, threads: threads),
                                    blocksPerTask: cluster.blocksPerTask)
        let report = try cluster.run(plan, model: model, loaded: m, modelSHA256: sha, threads: threads, device: resolved, common: common)
        let fidelity = report.labelFidelity ?? 0
        let wall = report.seconds
        // Blocks resumed from a job journal were not computed in this run.
        let gen = report.phases.first { $0.phase == GenPhase.name }
        let computedShare = gen.map { Double($0.computed) / Double(max(1, $0.tasks)) } ?? 1
        let sips = Double(count * cfg.iterations) * computedShare / wall
        let resumedNote = gen.map { $0.resumed > 0 ? ", \($0.resumed) of \($0.tasks) shards resumed from the journal" : "" } ?? ""
        let on = (cluster.workers.map { " on \($0) workers" } ?? "") + resumedNote
        if common.json {
            var o: [String: Any] = ["out": out, "samples": count, "generator": method.rawValue, "label_fidelity": fidelity,
                                    "seconds": wall, "sample_iterations_per_s": sips]
            if let workers = cluster.workers { o["workers"] = workers }
            if let gen, gen.resumed > 0 { o["resumed_shards"] = gen.resumed }
            Console.printJSON(o)
        } else {
            console.result(String(format: "generated %d %@ samples%@ in %.1f s (%.1f sample-it/s); label fidelity %.1f%%; wrote %@",
                                  count, method.rawValue, on, wall, sips, 100 * fidelity, out))
        }
    }
}
