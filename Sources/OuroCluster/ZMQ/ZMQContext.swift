import OuroSupport
import CZMQ

/// Owns one libzmq context. Sockets keep their context alive, so the context is
/// terminated (in `deinit`) only after every socket created from it has been closed.
public final class ZMQContext: Sendable {
    /// `nonisolated(unsafe)`: libzmq contexts are thread-safe; termination is guarded by a lock box.
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer

    /// Creates a new libzmq context.
    public init() throws {
        guard let h = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        handle = h
    }

    /// Makes every blocking call on this context's sockets return ETERM.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    private let terminated = Locked(false)

    /// Waits until the messages queued on this context's closed sockets are sent (each socket's
    /// linger bounds the wait), then frees the context. Every socket must be closed first, or
    /// this blocks. Idempotent; `deinit` calls it too.
    public func terminate() {
        let first = terminated.withLock { (done: inout Bool) -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    deinit { terminate() }

    /// Whether the linked libzmq has `capability` (for example `"curve"` or `"ipc"`).
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }

    /// The linked libzmq version as (major, minor, patch).
    public static var version: (Int, Int, Int) {
        var a: Int32 = 0, b: Int32 = 0, c: Int32 = 0
        zmq_version(&a, &b, &c)
        return (Int(a), Int(b), Int(c))
    }
}
