/// Errors of OuroMamba-Quant: bad configuration, incomplete or mismatched statistics, and bad
/// artifacts. Messages name the file (or source), the key and what was expected.
public struct QuantError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ message: String) { description = message }
    /// An error about `key` of `file`.
    public init(file: String, key: String, _ message: String) { description = "\(file): \(key): \(message)" }
}
