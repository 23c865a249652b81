import ArgumentParser
import OuroEngine
import OuroModel

/// `--device` values.
enum DeviceChoice: String, ExpressibleByArgument, CaseIterable {
    case cpu, gpu, auto
}

/// Where a command computes.
enum ResolvedDevice {
    case cpu
    case gpu(CUDADevice)
}

extension ResolvedDevice {
    /// The model uploaded to the GPU, or nil on the CPU.
    func model(_ m: VisionMamba) throws -> GPUVisionMamba? {
        guard case .gpu(let dev) = self else { return nil }
        do { return try GPUVisionMamba(model: m, device: dev) } catch let e as CUDAError { throw CLIError("--device gpu: \(e.description)") }
    }

    /// "cuda/<name>" or "cpu/openblas" (worker info and reports).
    var backendName: String {
        if case .gpu(let d) = self { return "cuda/\(d.name)" }
        return "cpu/openblas"
    }
}

/// `--device cpu|gpu|auto`, shared by worker, generate, quantize, eval and bench.
///
/// `gpu` is strict: it fails, naming what is missing, unless a usable CUDA device is found and
/// the command has a GPU implementation. `auto` takes the GPU under the same conditions and
/// otherwise runs on the CPU, saying why in a log line (never silently).
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "Compute device: cpu, gpu, or auto (the GPU when usable for this command, else the CPU with a logged note).")
    var device: DeviceChoice = .cpu

    /// Resolves the device of `command`; `gpuImplemented` says whether it has a GPU path in
    /// this build.
    func resolve(command: String, gpuImplemented: Bool, console: Console) throws -> ResolvedDevice {
        switch device {
        case .cpu:
            return .cpu
        case .gpu:
            let dev: CUDADevice
            do { dev = try GPUDevices.cuda() } catch let e as CUDAError { throw CLIError("--device gpu: \(e.description)") }
            guard gpuImplemented else {
                throw CLIError("--device gpu: `\(command)` has no GPU implementation in this build (found \(dev.name)); use --device cpu or auto")
            }
            return .gpu(dev)
        case .auto:
            guard gpuImplemented else {
                console.notice("--device auto: `\(command)` has no GPU implementation in this build; running on the CPU")
                return .cpu
            }
            do { return .gpu(try GPUDevices.cuda()) } catch let e as CUDAError {
                console.notice("--device auto: no usable GPU (\(e.description)); running on the CPU")
                return .cpu
            }
        }
    }
}
