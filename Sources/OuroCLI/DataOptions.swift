import ArgumentParser
import OuroData
import OuroModel
import OuroPipeline

/// `--transform`: how image files become model inputs.
enum TransformChoice: String, ExpressibleByArgument, CaseIterable {
    case vim, none

    var transform: ImageTransform { self == .vim ? .vim(cropRatio: ImageTransform.vimCropRatio) : .none }
}

/// The dataset of a command: `--data`, `--transform` and `--skip-bad`.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Dataset: fashion-mnist[:DIR] (its test split), imagefolder:DIR (one subfolder per class) or filelist:FILE (lines of 'relative/path label').")
    var data = "fashion-mnist"
    @Option(name: .long, help: "Image-file transform: vim (resize the shorter side to size/0.875 with PIL's bicubic, centre-crop) or none (images already the model's size). Default: vim for models of 224² and larger, none otherwise.")
    var transform: TransformChoice?
    @Flag(name: .long, help: "Leave out unreadable images, empty class folders and labels out of range, and count and list them (in --json output), instead of stopping at the first.")
    var skipBad = false

    /// With --skip-bad, adds `skipped` (count) and `bad_files` (`path`, `reason`) to a JSON result.
    func addSkipped(_ bad: [BadImage], to json: inout [String: Any]) {
        guard skipBad else { return }
        json["skipped"] = bad.count
        json["bad_files"] = bad.map { ["path": $0.path, "reason": $0.reason] }
    }

    /// The evaluation images for a model of `config`.
    func open(for config: VisionMambaConfig) throws -> any LabelledImageSource {
        try openDataset(data, split: .test, config: config, transform: transform?.transform, policy: skipBad ? .skip : .fail)
    }
}

/// Opens `spec` for a model of `config` (split applies to Fashion-MNIST), as a CLI error on failure.
func openDataset(_ spec: String, split: DatasetSplit, config c: VisionMambaConfig, transform: ImageTransform?,
                 policy: BadImagePolicy) throws -> any LabelledImageSource {
    do {
        return try DatasetSpec(parsing: spec).open(split: split, geometry: .init(classCount: c.numClasses, channels: c.channels, size: c.imageSize),
                                                   transform: transform, policy: policy)
    } catch let e as DataError { throw CLIError(e.description) }
}
