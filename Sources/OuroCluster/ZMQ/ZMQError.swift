import CZMQ
import Foundation

/// A failed libzmq call, carrying `errno` and the `zmq_strerror` text.
public struct ZMQError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The errno value reported by `zmq_errno()`.
    public let code: Int32
    /// The libzmq operation that failed (for example `"zmq_bind tcp://…"`).
    public let operation: String

    /// Creates an error for `operation` with an explicit errno value.
    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// Captures the calling thread's current `zmq_errno()`.
    static func last(_ operation: String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation)
    }

    /// The `zmq_strerror` text of the error code.
    public var message: String { String(cString: zmq_strerror(code)) }

    /// `"operation: message (errno N)"`.
    public var description: String { "\(operation): \(message) (errno \(code))" }

    /// True when the call would have blocked (EAGAIN): a timeout or a full queue.
    public var wouldBlock: Bool { code == EAGAIN }

    /// True when the context was terminated (ETERM).
    public var contextTerminated: Bool { code == ZMQError.eterm }

    /// True when a ROUTER_MANDATORY send named a peer that is not connected.
    public var hostUnreachable: Bool { code == EHOSTUNREACH }

    /// libzmq's ETERM (ZMQ_HAUSNUMERO + 53).
    static let eterm: Int32 = 156_384_712 + 53
}
