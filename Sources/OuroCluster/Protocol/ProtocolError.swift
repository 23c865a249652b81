/// Why a received message was rejected. Decoding never traps: every malformed input maps here.
public enum ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than the three mandatory frames.
    case tooFewFrames(Int)
    /// The first frame is not an `OMQ/<n>` header.
    case badHeader
    /// A well-formed header with a version this build does not speak.
    case unsupportedVersion(String)
    /// A command name this build does not know.
    case unknownCommand(String)
    /// The metadata frame is larger than allowed.
    case metadataTooLarge(Int)
    /// The metadata frame is not valid JSON.
    case metadataNotJSON
    /// The metadata frame is JSON but not an object.
    case metadataNotObject
    /// The binary frames do not match the declared `frame_sizes`.
    case frameMismatch(String)
    /// The whole message is larger than allowed.
    case messageTooLarge(Int)
    /// Too many binary frames.
    case tooManyFrames(Int)
    /// A required metadata field is missing or has the wrong type or value.
    case badField(String)
    /// A message type that makes no sense in this direction.
    case unexpected(Command)

    /// True for errors that call for a DISCONNECT reply (version/command not understood).
    public var isIncompatiblePeer: Bool {
        switch self {
        case .unsupportedVersion, .unknownCommand, .badHeader: return true
        default: return false
        }
    }

    /// Human-readable text.
    public var description: String {
        switch self {
        case .tooFewFrames(let n): return "message has \(n) frames, at least 3 required"
        case .badHeader: return "first frame is not an \(ProtocolVersion.name)/<version> header"
        case .unsupportedVersion(let v): return "unsupported protocol version \"\(v)\" (this peer speaks \(ProtocolVersion.header))"
        case .unknownCommand(let c): return "unknown command \"\(c)\""
        case .metadataTooLarge(let n): return "metadata of \(n) bytes exceeds the limit"
        case .metadataNotJSON: return "metadata is not valid JSON"
        case .metadataNotObject: return "metadata is not a JSON object"
        case .frameMismatch(let s): return "binary frames do not match metadata: \(s)"
        case .messageTooLarge(let n): return "message of \(n) bytes exceeds the limit"
        case .tooManyFrames(let n): return "\(n) binary frames exceed the limit"
        case .badField(let s): return "bad metadata field: \(s)"
        case .unexpected(let c): return "unexpected \(c.rawValue) in this direction"
        }
    }
}
