import CZMQ
import Foundation
import OuroSupport

/// A CURVE key pair as Z85 text (40 characters each).
public struct KeyPair: Sendable, Equatable {
    /// The public key (shareable).
    public let publicKey: String
    /// The secret key (keep private).
    public let secretKey: String

    /// Wraps existing keys after checking that `publicKey` belongs to `secretKey`.
    public init(publicKey: String, secretKey: String) throws {
        guard KeyPair.isValidKey(publicKey), KeyPair.isValidKey(secretKey) else {
            throw SecurityError.invalidKey("keys must be 40 Z85 characters")
        }
        guard try KeyPair.publicKey(forSecret: secretKey) == publicKey else {
            throw SecurityError.invalidKey("public key does not match the secret key")
        }
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a new pair with `zmq_curve_keypair`.
    public static func generate() throws -> KeyPair {
        guard ZMQContext.has("curve") else { throw SecurityError.curveUnavailable }
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZMQError.last("zmq_curve_keypair") }
        return try KeyPair(publicKey: string(pub), secretKey: string(sec))
    }

    /// Derives the public key of a Z85 secret key with `zmq_curve_public`.
    public static func publicKey(forSecret secret: String) throws -> String {
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secret) == 0 else { throw ZMQError.last("zmq_curve_public") }
        return string(pub)
    }

    /// True for 40 characters of the Z85 alphabet that decode to 32 bytes.
    public static func isValidKey(_ key: String) -> Bool {
        guard key.utf8.count == 40 else { return false }
        var out = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&out, key) != nil
    }

    /// Z85 text of a 32-byte binary key, or nil if it is not 32 bytes.
    static func z85(_ binary: [UInt8]) -> String? {
        guard binary.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&out, binary, 32) != nil else { return nil }
        return string(out)
    }

    private static func string(_ c: [CChar]) -> String {
        String(nulTerminated: c)
    }

    // MARK: files

    /// Writes `public-key = …` and `secret-key = …` lines to `url` with mode 0600.
    public func save(to url: URL) throws {
        let text = "# OuroMamba CURVE key pair (keep secret)\npublic-key = \(publicKey)\nsecret-key = \(secretKey)\n"
        guard FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw SecurityError.file("cannot write \(url.path)")
        }
    }

    /// Writes only the public key to `url` (for handing to the coordinator's allowlist).
    public func savePublicKey(to url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: Data("public-key = \(publicKey)\n".utf8)) else {
            throw SecurityError.file("cannot write \(url.path)")
        }
    }

    /// Reads a key pair written by `save(to:)`.
    public static func load(from url: URL) throws -> KeyPair {
        let entries = try KeyFile.entries(url)
        guard let sec = entries["secret-key"] else { throw SecurityError.file("\(url.path) has no secret-key line") }
        let pub = try entries["public-key"] ?? publicKey(forSecret: sec)
        return try KeyPair(publicKey: pub, secretKey: sec)
    }

    /// Reads an allowlist of public keys: one key per line, or `public-key = …` lines; lines
    /// starting with `#` are comments (Z85 keys may contain `#` and `=`, so only whole-line
    /// comments exist). Every key is validated.
    public static func loadPublicKeys(from url: URL) throws -> Set<String> {
        var keys = Set<String>()
        for tokens in try KeyFile.lines(url) {
            guard let key = tokens.last, isValidKey(key) else {
                throw SecurityError.invalidKey("\(url.path): \"\(tokens.joined(separator: " ").prefix(48))\" is not a Z85 key")
            }
            keys.insert(key)
        }
        return keys
    }
}

/// Errors about keys and authentication setup.
public enum SecurityError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libzmq was built without CURVE.
    case curveUnavailable
    /// A malformed or mismatched key.
    case invalidKey(String)
    /// A key file problem.
    case file(String)
    /// A non-loopback endpoint without CURVE.
    case insecureEndpoint(String)

    /// Human-readable text.
    public var description: String {
        switch self {
        case .curveUnavailable: return "libzmq has no CURVE support"
        case .invalidKey(let s): return "invalid CURVE key: \(s)"
        case .file(let s): return "key file: \(s)"
        case .insecureEndpoint(let e): return "endpoint \(e) is not loopback/ipc: CURVE (server key + worker allowlist) is required"
        }
    }
}

/// The line format shared by key files: whitespace-separated tokens, whole-line `#` comments.
enum KeyFile {
    static func lines(_ url: URL) throws -> [[String]] {
        guard let data = FileManager.default.contents(atPath: url.path), data.count < 1 << 20 else {
            throw SecurityError.file("cannot read \(url.path)")
        }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).compactMap { raw in
            let tokens = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = tokens.first else { return nil }
            // A bare key may itself start with "#": only a line that is not one key is a comment.
            if first.hasPrefix("#") && !(tokens.count == 1 && KeyPair.isValidKey(first)) { return nil }
            return tokens
        }
    }

    /// `name = value` lines.
    static func entries(_ url: URL) throws -> [String: String] {
        var out: [String: String] = [:]
        for t in try lines(url) where t.count == 3 && t[1] == "=" { out[t[0]] = t[2] }
        return out
    }
}
