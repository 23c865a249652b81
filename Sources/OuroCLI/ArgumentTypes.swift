import ArgumentParser
import Foundation
import OuroGen
import OuroPipeline
import OuroQuant

// Settings, methods, generators and engines are parsed by ArgumentParser, so a bad value fails
// before anything runs (exit 2) and `--help` lists the valid values.

extension QuantMethod: ExpressibleByArgument {}
extension GeneratorKind: ExpressibleByArgument {}
extension GenDefaults: ExpressibleByArgument {}
extension QuantEngine: ExpressibleByArgument {}

/// `--path` of the kernel benchmarks: a kernel path by name.
enum KernelPathArgument: String, CaseIterable, ExpressibleByArgument {
    case auto, portable, avx2, avx512

    var path: KernelPath {
        switch self {
        case .auto: .auto
        case .portable: .portable
        case .avx2: .avx2
        case .avx512: .avx512
        }
    }
}

/// Runs a library parser, turning its error into a usage error with the library's message
/// (ArgumentParser names the option).
func usage<T>(_ parse: () throws -> T) throws -> T {
    do { return try parse() } catch { throw ValidationError("\(error)") }
}

/// Parses `--setting` (`w4a4`, `w4a8`, `w8a8` or `wXaYoZ`).
func parseSetting(_ text: String) throws -> QuantSetting { try usage { try QuantSetting(parsing: text) } }

/// Parses a comma-separated list with `element`, rejecting empty lists.
func parseList<T>(_ text: String, _ element: (String) throws -> T) throws -> [T] {
    let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard !items.isEmpty else { throw ValidationError("expected a comma-separated list, got '\(text)'") }
    return try items.map(element)
}

/// Checks a calibration source (`DIR`, `real:N[@DATASET]`, `noise:N`, `syn:GENERATOR:N`) at parse
/// time; the seed is applied when the command runs.
func parseCalib(_ text: String) throws -> String {
    _ = try usage { try CalibrationSource(parsing: text, seed: 0) }
    return text
}
