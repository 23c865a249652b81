import ArgumentParser
import Foundation
import OuroGen
import OuroQuant

// Settings, methods, generators and engines are parsed by ArgumentParser, so a bad value fails
// before anything runs (exit 2) and `--help` lists the valid values.

extension QuantMethod: ExpressibleByArgument {}
extension GeneratorKind: ExpressibleByArgument {}
extension QuantEngine: ExpressibleByArgument {}

extension QuantSetting: ExpressibleByArgument {
    /// `w4a4`, `w4a8`, `w8a8` or `wXaYoZ`.
    public init?(argument: String) { try? self.init(parsing: argument) }
    public var defaultValueDescription: String { description }
    public static var allValueStrings: [String] { ["w4a4", "w4a8", "w8a8"] }
}

/// Parses `--setting` with the setting's own message on failure (ArgumentParser adds the option).
func parseSetting(_ text: String) throws -> QuantSetting {
    do { return try QuantSetting(parsing: text) } catch { throw ValidationError("\(error)") }
}

/// Parses a comma-separated list with `element`, rejecting empty lists.
func parseList<T>(_ text: String, _ element: (String) throws -> T) throws -> [T] {
    let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard !items.isEmpty else { throw ValidationError("expected a comma-separated list, got '\(text)'") }
    return try items.map(element)
}

/// Parses a raw-value enum, listing the valid values on failure.
func parseCase<T: RawRepresentable & CaseIterable>(_ text: String) throws -> T where T.RawValue == String {
    guard let v = T(rawValue: text) else {
        throw ValidationError("'\(text)': expected one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return v
}
