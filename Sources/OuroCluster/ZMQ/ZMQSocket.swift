import CZMQ
import Foundation

/// Frames at or above this size are sent zero-copy with `zmq_msg_init_data`; smaller ones
/// go through `zmq_send`, whose internal copy is cheaper than the bookkeeping.
let zeroCopyThreshold = 1024

/// libzmq's free callback for zero-copy frames: releases the retained `FrameStorage`.
private func releaseFrameStorage(_ data: UnsafeMutableRawPointer?, _ hint: UnsafeMutableRawPointer?) {
    guard let hint else { return }
    Unmanaged<FrameStorage>.fromOpaque(hint).release()
}

/// Receive-side limits: a message with more parts or bytes than this is drained and rejected.
public struct ReceiveLimits: Sendable, Equatable {
    /// Largest number of parts accepted in one message.
    public var maxFrames: Int
    /// Largest total byte count (all parts) accepted in one message.
    public var maxBytes: Int

    /// Creates limits.
    public init(maxFrames: Int, maxBytes: Int) {
        self.maxFrames = maxFrames
        self.maxBytes = maxBytes
    }
}

/// A message that broke `ReceiveLimits`. It has been fully drained from the socket.
public struct OversizedMessage: Error, CustomStringConvertible, Sendable {
    /// The first part (on a ROUTER socket, the sender's routing id).
    public let firstFrame: Frame?
    /// Parts seen.
    public let frames: Int
    /// Bytes seen.
    public let bytes: Int
    /// Human-readable summary.
    public var description: String { "message over the receive limits (\(frames) parts, \(bytes) bytes)" }
}

/// A libzmq socket. Not thread-safe: one thread owns it at a time.
public final class ZMQSocket {
    /// Socket types used by the cluster.
    public enum Kind: Sendable {
        case router, dealer, pair, rep, req

        var raw: Int32 {
            switch self {
            case .router: return ZMQ_ROUTER
            case .dealer: return ZMQ_DEALER
            case .pair: return ZMQ_PAIR
            case .rep: return ZMQ_REP
            case .req: return ZMQ_REQ
            }
        }
    }

    /// The context this socket belongs to (kept alive by the socket).
    public let context: ZMQContext
    private var handle: UnsafeMutableRawPointer?

    /// Creates a socket of `kind` with linger 0 (so close never blocks unless asked to).
    public init(context: ZMQContext, kind: Kind) throws {
        guard let h = zmq_socket(context.handle, kind.raw) else { throw ZMQError.last("zmq_socket") }
        self.context = context
        self.handle = h
        try setOption(ZMQ_LINGER, Int32(0))
    }

    deinit { close() }

    func live(_ op: String) throws -> UnsafeMutableRawPointer {
        guard let h = handle else { throw ZMQError(code: ENOTSOCK, operation: "\(op) on a closed socket") }
        return h
    }

    /// The raw handle for `zmq_poll`; nil once closed.
    var rawHandle: UnsafeMutableRawPointer? { handle }

    /// Closes the socket; `linger` (milliseconds) bounds how long unsent messages are kept.
    public func close(linger: Int32 = 0) {
        guard let h = handle else { return }
        var l = linger
        _ = zmq_setsockopt(h, ZMQ_LINGER, &l, MemoryLayout<Int32>.size)
        _ = zmq_close(h)
        handle = nil
    }

    /// True until `close()`.
    public var isOpen: Bool { handle != nil }

    // MARK: options

    /// Sets an `int` option.
    public func setOption(_ name: Int32, _ value: Int32) throws {
        let h = try live("zmq_setsockopt")
        var v = value
        if zmq_setsockopt(h, name, &v, MemoryLayout<Int32>.size) != 0 { throw ZMQError.last("zmq_setsockopt(\(name))") }
    }

    /// Sets an `int64` option.
    public func setOption(_ name: Int32, int64 value: Int64) throws {
        let h = try live("zmq_setsockopt")
        var v = value
        if zmq_setsockopt(h, name, &v, MemoryLayout<Int64>.size) != 0 { throw ZMQError.last("zmq_setsockopt(\(name))") }
    }

    /// Sets a binary or string option from raw bytes.
    public func setOption(_ name: Int32, bytes: [UInt8]) throws {
        let h = try live("zmq_setsockopt")
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(h, name, $0.baseAddress, $0.count) }
        if rc != 0 { throw ZMQError.last("zmq_setsockopt(\(name))") }
    }

    /// Sets a string option (without a terminating NUL).
    public func setOption(_ name: Int32, string: String) throws {
        try setOption(name, bytes: Array(string.utf8))
    }

    /// Reads an `int` option.
    public func intOption(_ name: Int32) throws -> Int32 {
        let h = try live("zmq_getsockopt")
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if zmq_getsockopt(h, name, &v, &size) != 0 { throw ZMQError.last("zmq_getsockopt(\(name))") }
        return v
    }

    /// Reads a NUL-terminated string option (at most 1 KiB).
    public func stringOption(_ name: Int32) throws -> String {
        let h = try live("zmq_getsockopt")
        var buf = [UInt8](repeating: 0, count: 1024)
        var size = buf.count
        let rc = buf.withUnsafeMutableBytes { zmq_getsockopt(h, name, $0.baseAddress, &size) }
        if rc != 0 { throw ZMQError.last("zmq_getsockopt(\(name))") }
        let n = buf.prefix(min(size, buf.count)).firstIndex(of: 0) ?? min(size, buf.count)
        return String(decoding: buf.prefix(n), as: UTF8.self)
    }

    /// ZMQ_LINGER in milliseconds (-1: forever).
    public func setLinger(_ ms: Int32) throws { try setOption(ZMQ_LINGER, ms) }
    /// ZMQ_ROUTING_ID (1–255 bytes, must not start with a zero byte); set before connecting.
    public func setRoutingID(_ id: [UInt8]) throws { try setOption(ZMQ_ROUTING_ID, bytes: id) }
    /// ZMQ_SNDTIMEO in milliseconds (-1: block).
    public func setSendTimeout(_ ms: Int32) throws { try setOption(ZMQ_SNDTIMEO, ms) }
    /// ZMQ_RCVTIMEO in milliseconds (-1: block).
    public func setReceiveTimeout(_ ms: Int32) throws { try setOption(ZMQ_RCVTIMEO, ms) }
    /// ZMQ_MAXMSGSIZE: libzmq drops a connection whose peer sends a larger part (-1: no limit).
    public func setMaxMessageSize(_ bytes: Int64) throws { try setOption(ZMQ_MAXMSGSIZE, int64: bytes) }
    /// ZMQ_ROUTER_MANDATORY: sending to an unknown routing id fails with EHOSTUNREACH.
    public func setRouterMandatory(_ on: Bool) throws { try setOption(ZMQ_ROUTER_MANDATORY, on ? 1 : 0) }
    /// ZMQ_HANDSHAKE_IVL in milliseconds: a connection that has not completed its handshake is dropped.
    public func setHandshakeInterval(_ ms: Int32) throws { try setOption(ZMQ_HANDSHAKE_IVL, ms) }
    /// ZMQ_RECONNECT_IVL / ZMQ_RECONNECT_IVL_MAX in milliseconds (libzmq's own reconnection).
    public func setReconnectInterval(_ ms: Int32, max: Int32) throws {
        try setOption(ZMQ_RECONNECT_IVL, ms)
        try setOption(ZMQ_RECONNECT_IVL_MAX, max)
    }

    // MARK: endpoints

    /// Binds to `endpoint` (for example `tcp://127.0.0.1:*`, `ipc:///tmp/x.ipc`).
    public func bind(_ endpoint: String) throws {
        let h = try live("zmq_bind")
        if zmq_bind(h, endpoint) != 0 { throw ZMQError.last("zmq_bind \(endpoint)") }
    }

    /// Connects to `endpoint`.
    public func connect(_ endpoint: String) throws {
        let h = try live("zmq_connect")
        if zmq_connect(h, endpoint) != 0 { throw ZMQError.last("zmq_connect \(endpoint)") }
    }

    /// The endpoint last bound (resolves wildcard ports such as `tcp://127.0.0.1:*`).
    public var lastEndpoint: String { (try? stringOption(ZMQ_LAST_ENDPOINT)) ?? "" }

    // MARK: send / receive

    /// Sends `frames` as one multipart message. Frames of `zeroCopyThreshold` bytes or more
    /// are passed to libzmq without copying. With `dontWait`, a full queue throws EAGAIN.
    public func send(_ frames: [Frame], dontWait: Bool = false) throws {
        let h = try live("zmq_send")
        guard !frames.isEmpty else { return }
        for (i, f) in frames.enumerated() {
            var flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            var rc: Int32
            repeat {
                rc = Self.sendPart(h, f, flags: flags)
            } while rc < 0 && zmq_errno() == EINTR
            if rc < 0 { throw ZMQError.last("zmq_send part \(i)") }
        }
    }

    private static func sendPart(_ h: UnsafeMutableRawPointer, _ f: Frame, flags: Int32) -> Int32 {
        guard f.count >= zeroCopyThreshold, let base = f.storage.base else {
            return f.withUnsafeBytes { zmq_send(h, $0.baseAddress, $0.count, flags) }
        }
        var msg = zmq_msg_t()
        let hint = Unmanaged.passRetained(f.storage).toOpaque()
        if zmq_msg_init_data(&msg, UnsafeMutableRawPointer(mutating: base), f.count, releaseFrameStorage, hint) != 0 {
            Unmanaged<FrameStorage>.fromOpaque(hint).release()
            return -1
        }
        let rc = zmq_msg_send(&msg, h, flags)
        if rc < 0 {
            let e = zmq_errno()
            zmq_msg_close(&msg)  // calls the free callback
            errno = e
            return -1
        }
        return rc
    }

    /// Receives one multipart message. Throws `ZMQError` (EAGAIN when `dontWait` and nothing is
    /// queued) or `OversizedMessage` when the message breaks `limits` (the message is drained).
    public func receive(limits: ReceiveLimits, dontWait: Bool = false) throws -> [Frame] {
        let h = try live("zmq_msg_recv")
        var frames: [Frame] = []
        var first: Frame?
        var total = 0
        var parts = 0
        var exceeded = false
        var more = true
        while more {
            let m = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
            zmq_msg_init(m)
            var n: Int32
            repeat {
                n = zmq_msg_recv(m, h, parts == 0 && dontWait ? ZMQ_DONTWAIT : 0)
            } while n < 0 && zmq_errno() == EINTR
            if n < 0 {
                let err = ZMQError.last("zmq_msg_recv")
                zmq_msg_close(m)
                m.deallocate()
                throw err
            }
            more = zmq_msg_more(m) != 0
            parts += 1
            total += Int(n)
            if !exceeded && (parts > limits.maxFrames || total > limits.maxBytes) { exceeded = true }
            let frame = Frame(storage: FrameStorage(base: zmq_msg_data(m).map { UnsafeRawPointer($0) },
                                                    count: Int(n), owner: .message(m)))
            if parts == 1 { first = frame }
            if !exceeded { frames.append(frame) }
        }
        if exceeded { throw OversizedMessage(firstFrame: first, frames: parts, bytes: total) }
        return frames
    }
}
