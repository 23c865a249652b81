/// The one error type of OuroCheckpoint: every problem with a checkpoint file (format, bounds,
/// unsupported content, disallowed pickle globals, I/O) is reported through it.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file being read or written.
    public var file: String
    /// The tensor name, header key, zip entry or pickle location concerned (nil for the whole file).
    public var key: String?
    /// What was wrong and what was expected.
    public var message: String

    /// Creates an error for `file` (and optionally `key`).
    public init(file: String, key: String? = nil, _ message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String {
        if let key { return "\(file): \(key): \(message)" }
        return "\(file): \(message)"
    }
}
