import Foundation
import OuroEngine

/// The GPU devices a test can run on here: the host-emulated device (when a C++ compiler is
/// found) and a real CUDA GPU (when a driver and GPU are). Each one missing prints a loud
/// SKIPPING line with the reason.
public enum GPUTestDevices {
    public static func all(_ test: String) -> [(label: String, device: GPUDevice)] {
        var out: [(String, GPUDevice)] = []
        do { out.append(("emulated", try EmulatedGPUDevice())) } catch {
            print("SKIPPING \(test) on the emulated GPU: \(error)")
        }
        if let cuda = cuda(test) { out.append(("cuda", cuda)) }
        return out
    }

    /// The CUDA device, or nil with a SKIPPING line (cached: one context per process).
    public static func cuda(_ test: String) -> CUDADevice? {
        switch shared {
        case .success(let d): return d
        case .failure(let e): print("SKIPPING \(test) on a CUDA GPU: \(e)"); return nil
        }
    }

    private static let shared: Result<CUDADevice, Error> = Result { try GPUDevices.cuda() }
}
