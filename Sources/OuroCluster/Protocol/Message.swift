import OuroSupport
import Foundation

/// One protocol message: [header] [command] [metadata JSON object] [binary frames…].
///
/// The metadata carries a reserved `frame_sizes` array (added by `encode`, checked by
/// `decode`) so that a receiver can verify the binary frames before using them.
public struct Message: Sendable {
    /// The command.
    public var command: Command
    /// The metadata document (without `frame_sizes`).
    public var fields: JSONObject
    /// The binary frames.
    public var frames: [Frame]

    /// Creates a message.
    public init(command: Command, fields: JSONObject = [:], frames: [Frame] = []) {
        self.command = command
        self.fields = fields
        self.frames = frames
    }

    /// The reserved metadata key listing the binary frame sizes.
    public static let frameSizesKey = "frame_sizes"
}

/// Encodes and validates protocol messages.
public enum MessageCodec {
    /// The wire frames of `message` (binary frames are shared, not copied).
    public static func encode(_ message: Message) throws -> [Frame] {
        var fields = message.fields
        fields[Message.frameSizesKey] = .array(message.frames.map { .int($0.count) })
        let json = try JSONCoding.encode(JSONValue.object(fields))
        return [Frame(ProtocolVersion.header), Frame(message.command.rawValue), Frame(json)] + message.frames
    }

    /// Decodes and validates wire frames (without any routing id). Throws `ProtocolError`.
    public static func decode(_ frames: ArraySlice<Frame>, limits: WireLimits) throws -> Message {
        guard frames.count >= 3 else { throw ProtocolError.tooFewFrames(frames.count) }
        let i = frames.startIndex
        try checkHeader(frames[i])
        guard let name = frames[i + 1].string, let command = Command(rawValue: name) else {
            let printable = frames[i + 1].string.map { String($0.prefix(32)) } ?? "<\(frames[i + 1].count) bytes>"
            throw ProtocolError.unknownCommand(printable)
        }
        let binary = frames.dropFirst(3)
        guard binary.count <= limits.maxBinaryFrames else { throw ProtocolError.tooManyFrames(binary.count) }
        let total = frames.reduce(0) { $0 + $1.count }
        guard total <= limits.maxMessageBytes else { throw ProtocolError.messageTooLarge(total) }
        let meta = frames[i + 2]
        guard meta.count <= limits.maxMetadataBytes else { throw ProtocolError.metadataTooLarge(meta.count) }
        let value: JSONValue
        do { value = try JSONCoding.decode(JSONValue.self, from: meta.data) } catch { throw ProtocolError.metadataNotJSON }
        guard var fields = value.objectValue else { throw ProtocolError.metadataNotObject }
        guard let sizes = fields.removeValue(forKey: Message.frameSizesKey)?.arrayValue else {
            throw ProtocolError.frameMismatch("missing \(Message.frameSizesKey)")
        }
        guard sizes.count == binary.count else {
            throw ProtocolError.frameMismatch("\(sizes.count) declared, \(binary.count) received")
        }
        for (k, (declared, frame)) in zip(sizes, binary).enumerated() where declared.intValue != frame.count {
            throw ProtocolError.frameMismatch("frame \(k): declared \(declared), received \(frame.count) bytes")
        }
        return Message(command: command, fields: fields, frames: Array(binary))
    }

    /// Decodes frames given as an array.
    public static func decode(_ frames: [Frame], limits: WireLimits) throws -> Message {
        try decode(frames[...], limits: limits)
    }

    private static func checkHeader(_ f: Frame) throws {
        guard f.count <= 32, let s = f.string else { throw ProtocolError.badHeader }
        if s == ProtocolVersion.header { return }
        let prefix = ProtocolVersion.name + "/"
        guard s.hasPrefix(prefix), !s.dropFirst(prefix.count).isEmpty else { throw ProtocolError.badHeader }
        throw ProtocolError.unsupportedVersion(s)
    }
}

/// Typed access to metadata fields; every failure is a `ProtocolError.badField`.
extension Dictionary where Key == String, Value == JSONValue {
    func requiredString(_ key: String, maxLength: Int = 256) throws -> String {
        guard let s = self[key]?.stringValue, !s.isEmpty, s.utf8.count <= maxLength else {
            throw ProtocolError.badField("\(key) must be a non-empty string of at most \(maxLength) bytes")
        }
        return s
    }

    func optionalString(_ key: String, maxLength: Int = 4096) throws -> String? {
        guard let v = self[key], v != .null else { return nil }
        guard let s = v.stringValue, s.utf8.count <= maxLength else {
            throw ProtocolError.badField("\(key) must be a string of at most \(maxLength) bytes")
        }
        return s
    }

    func requiredInt(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let i = self[key]?.intValue, range.contains(i) else {
            throw ProtocolError.badField("\(key) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    func optionalInt(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = self[key], v != .null else { return nil }
        guard let i = v.intValue, range.contains(i) else {
            throw ProtocolError.badField("\(key) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    func objectField(_ key: String) throws -> JSONObject {
        guard let v = self[key], v != .null else { return [:] }
        guard let o = v.objectValue else { throw ProtocolError.badField("\(key) must be an object") }
        return o
    }

    func stringArray(_ key: String, maxCount: Int = 1024) throws -> [String] {
        guard let v = self[key], v != .null else { return [] }
        guard let a = v.arrayValue, a.count <= maxCount else { throw ProtocolError.badField("\(key) must be an array") }
        return try a.map {
            guard let s = $0.stringValue, s.utf8.count <= 256 else { throw ProtocolError.badField("\(key) must hold strings") }
            return s
        }
    }
}
