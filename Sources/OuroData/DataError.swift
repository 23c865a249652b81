/// An error from loading, parsing or writing data.
///
/// `context` names what was being read (usually a file's base name, e.g.
/// `train-images-idx3-ubyte.gz`) or the API that rejected its arguments; `message` says what
/// was found and what was expected.
public struct DataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file or API concerned.
    public let context: String
    /// What went wrong, including the expected value where there is one.
    public let message: String

    /// An error about `context`.
    public init(_ context: String, _ message: String) {
        self.context = context
        self.message = message
    }

    /// "context: message".
    public var description: String { "\(context): \(message)" }
}

/// `0x` and eight upper-case hex digits, for magic numbers in messages.
func hex32(_ v: UInt32) -> String {
    let s = String(v, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}

/// The last path component, used to name files in messages.
func baseName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    let rest = path[path.index(after: slash)...]
    return rest.isEmpty ? path : String(rest)
}
