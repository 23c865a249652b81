import Foundation
import OuroEngine

/// The GPU devices a test can run on here: the host-emulated device (when a C++ compiler is
/// found) and a real CUDA GPU (when a driver and GPU are). Each one missing prints a loud
/// SKIPPING line with the reason.
///
/// Tests carry condition traits built from the static checks below, so that a test with no
/// device to run on is skipped with a reason instead of passing without testing anything:
/// `.enabled(if: GPUTestDevices.anyAvailable, "\(GPUTestDevices.noDeviceReason)")` for tests
/// that loop over `all(_:)`, `cudaAvailable` for tests of a real GPU, `nvrtcAvailable` for
/// NVRTC compile checks and `emulatedAvailable` for tests of the emulated device.
public enum GPUTestDevices {
    /// The available devices; throws (never returns an empty list) when there is none.
    public static func all(_ test: String) throws -> [(label: String, device: GPUDevice)] {
        var out: [(String, GPUDevice)] = []
        do { out.append(("emulated", try EmulatedGPUDevice())) } catch {
            print("SKIPPING \(test) on the emulated GPU: \(error)")
        }
        if let cuda = cuda(test) { out.append(("cuda", cuda)) }
        if out.isEmpty { throw NoGPUDevice(test: test) }
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

    // MARK: Static conditions for test traits

    /// Why the emulated device cannot be made (no host C++ compiler), or nil when it can.
    private static let emulatedError: String? = {
        do { _ = try EmulatedGPUDevice(threads: 1); return nil } catch { return "\(error)" }
    }()

    /// The host-emulated GPU can be made (normally true: it needs only a host C++ compiler).
    public static var emulatedAvailable: Bool { emulatedError == nil }

    /// Why the emulated GPU is unavailable ("" when it is available).
    public static var emulatedMissingReason: String { emulatedError.map { "emulated GPU unavailable: \($0)" } ?? "" }

    /// A real CUDA GPU (driver, libraries and device) is usable.
    public static var cudaAvailable: Bool {
        if case .success = shared { return true }
        return false
    }

    /// Why there is no usable CUDA GPU ("" when there is one).
    public static var cudaMissingReason: String {
        if case .failure(let e) = shared { return "no usable CUDA GPU: \(e)" }
        return ""
    }

    /// At least one device (emulated or CUDA): `all(_:)` returns a non-empty list.
    public static var anyAvailable: Bool { emulatedAvailable || cudaAvailable }

    /// Why no device is available.
    public static var noDeviceReason: String {
        "no GPU device to test on (\(emulatedMissingReason); \(cudaMissingReason))"
    }

    /// Why NVRTC (libnvrtc.so) cannot be opened, or nil when it can.
    private static let nvrtcError: String? = {
        do { _ = try NVRTCCompiler(); return nil } catch { return "\(error)" }
    }()

    /// NVRTC is present (CUDA kernel sources can be compile-checked; no GPU needed).
    public static var nvrtcAvailable: Bool { nvrtcError == nil }

    /// Why NVRTC compile checks are skipped ("" when NVRTC is present).
    public static var nvrtcMissingReason: String { nvrtcError.map { "no NVRTC to compile-check the CUDA kernels: \($0)" } ?? "" }

    /// Thrown by `all(_:)` when there is no device at all.
    public struct NoGPUDevice: Error, CustomStringConvertible {
        public var test: String
        public var description: String { "\(test): \(GPUTestDevices.noDeviceReason)" }
    }
}
