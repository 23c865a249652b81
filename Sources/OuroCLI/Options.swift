import ArgumentParser
import Logging
import Foundation
import OuroEngine
import OuroModel
import OuroGen
import OuroQuant

/// Output and threading options shared by every command.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Compute threads (default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "Print only the final result.")
    var quiet = false

    @Flag(name: .long, help: "Print debug detail.")
    var verbose = false

    @Flag(name: .long, help: "Print the final result as one JSON object.")
    var json = false

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be ≥ 1") }
        if quiet && verbose { throw ValidationError("--quiet and --verbose are exclusive") }
    }

    /// Thread count in force; also sets OpenBLAS's.
    func resolvedThreads() -> Int {
        let t = threads ?? Hardware.cores
        BLAS.setThreads(t)
        return t
    }

    /// A console for this command's output.
    func console() -> Console { Console(quiet: quiet || json, verbose: verbose) }
}

/// Which model to use.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Checkpoint (.pth or .safetensors). Default: the embedded Fashion-MNIST model.")
    var model: String?

    @Option(name: .long, help: "Config JSON (default: <model>.config.json beside the checkpoint, else inferred).")
    var config: String?

    @Option(name: .long, help: "Patch stride when inferring the config (overlapping patches).")
    var stride: Int?

    /// The checkpoint path in force.
    func modelPath() throws -> String {
        if let model { return model }
        guard let p = DefaultModel.path() else {
            throw CLIError("no --model given and the embedded model \(DefaultModel.relativePath) was not found (run from the repository, or set OUROMAMBA_HOME)")
        }
        return p
    }

    func load() throws -> (VisionMamba, String) {
        let path = try modelPath()
        return (try Self.load(path: path, configPath: config, stride: stride), path)
    }

    /// Loads a checkpoint (its config from `configPath`, else beside it, else inferred), with
    /// loading errors as CLI errors.
    static func load(path: String, configPath: String? = nil, stride: Int? = nil) throws -> VisionMamba {
        do { return try VisionMamba.load(path: path, configPath: configPath, stride: stride) }
        catch let e as ModelError { throw CLIError(e.description) }
        catch { throw CLIError("\(error)") }
    }
}

/// The Gen configuration of `syn:GENERATOR:N` calibration sources (`quantize`, `compare`).
struct SyntheticSourceOptions: ParsableArguments {
    @Option(name: .long, help: "Defaults of syn:GENERATOR:N sources: recommended (the project's, docs/method-notes.md) or spec (method.md §3.12).")
    var genDefaults: GenDefaults = .recommended
    @Option(name: .long, help: "Adam iterations of syn:GENERATOR:N sources (default: 200 in the recommended defaults, 500 in the spec's).") var genIterations: Int?

    func validate() throws {
        if let genIterations, genIterations < 0 { throw ValidationError("--gen-iterations must be ≥ 0") }
    }

    /// The configuration a `syn:` source starts from (its generator, count and seed are its own).
    var base: GenConfig {
        var c = GenConfig(defaults: genDefaults)
        if let genIterations { c.iterations = genIterations }
        return c
    }
}

/// Locates the embedded default model.
enum DefaultModel {
    static let relativePath = "models/vim-fashion.safetensors"

    static func path() -> String? {
        var candidates: [URL] = []
        if let home = ProcessInfo.processInfo.environment["OUROMAMBA_HOME"] { candidates.append(URL(fileURLWithPath: home)) }
        candidates.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        var exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 { candidates.append(exe); exe = exe.deletingLastPathComponent() }
        for c in candidates {
            let p = c.appendingPathComponent(relativePath).path
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }
}

/// Prints results to stdout; log lines go through swift-log to stderr, honouring
/// --quiet/--verbose (--json implies quiet, so stdout holds only the JSON object).
struct Console {
    var quiet: Bool
    var verbose: Bool
    let logger: Logger

    init(quiet: Bool, verbose: Bool) {
        self.quiet = quiet; self.verbose = verbose
        var l = Logger(label: "ouromamba") { PlainLogHandler(label: $0) }
        l.logLevel = quiet ? .warning : (verbose ? .debug : .info)
        logger = l
    }

    func info(_ s: String) { logger.info("\(s)") }
    /// A note that matters even with --quiet/--json (on stderr; stdout stays clean).
    func notice(_ s: String) { logger.warning("\(s)") }
    func debug(_ s: String) { logger.debug("\(s)") }
    func result(_ s: String) { print(s) }

    /// Prints a JSON object on one line (sorted keys).
    static func printJSON(_ obj: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Creates the folder that will hold `path` (outputs may name new folders).
func createParentDirectory(of path: String) throws {
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
    do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    catch { throw CLIError("\(dir.path): cannot create the output folder (\(error.localizedDescription))") }
}

/// The log handlers of the CLI keep their metadata in a plain dictionary.
protocol DictionaryMetadataLogHandler: LogHandler {}

extension DictionaryMetadataLogHandler {
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

/// A swift-log handler that writes the bare message to stderr (prefixed with the level for
/// warnings and errors): command output stays readable in terminals and CI logs.
struct PlainLogHandler: DictionaryMetadataLogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    func log(event: LogEvent) {
        let prefix = event.level >= .warning ? "\(event.level): " : ""
        FileHandle.standardError.write(Data((prefix + event.message.description + "\n").utf8))
    }
}

/// `--engine` of the quantized commands: one engine, or both side by side.
enum EngineChoice: String, ExpressibleByArgument, CaseIterable {
    case sim, int, both

    /// The engines to run, in display order.
    var engines: [QuantEngine] {
        switch self {
        case .sim: return [.sim]
        case .int: return [.int]
        case .both: return [.int, .sim]
        }
    }
}
