import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An error from the CUDA backend, with what was tried.
public struct CUDAError: Error, CustomStringConvertible {
    public var description: String
    public init(_ m: String) { description = m }
}

/// Finds and opens the CUDA libraries at run time (no link-time CUDA dependency).
///
/// Search order: the folders in `$OUROMAMBA_CUDA_LIBS` (colon-separated), then the standard
/// locations (`/usr/local/cuda/…`, versioned `/usr/local/cuda-X.Y/…`, `/usr/lib/x86_64-linux-gnu`,
/// `/usr/local/nvidia/lib64`), then the dynamic loader's path.
enum CUDALibraries {
    static var searchFolders: [String] {
        let env = ProcessInfo.processInfo.environment["OUROMAMBA_CUDA_LIBS"]?.split(separator: ":").map(String.init) ?? []
        // Versioned toolkits (/usr/local/cuda-13.0, …), newest first.
        let versioned = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/local")) ?? [])
            .filter { $0.hasPrefix("cuda-") }.sorted(by: >)
            .flatMap { ["/usr/local/\($0)/targets/x86_64-linux/lib", "/usr/local/\($0)/lib64"] }
        return env + ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"] + versioned
            + ["/usr/lib/x86_64-linux-gnu", "/usr/local/nvidia/lib64", "/usr/lib64"]
    }

    /// dlopen of the first name found, trying each folder then the bare name.
    static func open(_ names: [String], what: String) throws -> UnsafeMutableRawPointer {
        var tried: [String] = []
        for name in names {
            for dir in searchFolders {
                let p = dir + "/" + name
                if FileManager.default.fileExists(atPath: p), let h = dlopen(p, RTLD_NOW | RTLD_GLOBAL) { return h }
            }
            if let h = dlopen(name, RTLD_NOW | RTLD_GLOBAL) { return h }
            tried.append(name)
        }
        throw CUDAError("no \(what) found (tried \(tried.joined(separator: ", ")) in \(searchFolders.joined(separator: ", ")) and the loader path; set OUROMAMBA_CUDA_LIBS)")
    }

    /// A C function pointer from an open library.
    static func symbol<T>(_ lib: UnsafeMutableRawPointer, _ name: String, as: T.Type, fallback: String? = nil) throws -> T {
        guard let s = dlsym(lib, name) ?? fallback.flatMap({ dlsym(lib, $0) }) else {
            throw CUDAError("symbol \(name) missing from the CUDA library")
        }
        return unsafeBitCast(s, to: T.self)
    }
}
