import CZMQ
import Foundation

/// Something `zmq_poll` can wait on for input: a socket or a plain file descriptor.
public enum PollTarget {
    case socket(ZMQSocket)
    case fd(Int32)
}

/// `zmq_poll` for readability.
public enum Poller {
    /// Waits up to `timeoutMs` (-1: forever) until one of `targets` is readable; returns one flag
    /// per target. An interrupted wait (EINTR) returns all false; a closed socket never reads ready.
    public static func pollIn(_ targets: [PollTarget], timeoutMs: Int) throws -> [Bool] {
        var items: [zmq_pollitem_t] = targets.map { t in
            switch t {
            case .socket(let s):
                return zmq_pollitem_t(socket: s.rawHandle, fd: -1, events: s.isOpen ? Int16(ZMQ_POLLIN) : 0, revents: 0)
            case .fd(let fd):
                return zmq_pollitem_t(socket: nil, fd: fd, events: Int16(ZMQ_POLLIN), revents: 0)
            }
        }
        let rc = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), timeoutMs) }
        if rc < 0 {
            if zmq_errno() == EINTR { return Array(repeating: false, count: targets.count) }
            throw ZMQError.last("zmq_poll")
        }
        return items.map { ($0.revents & Int16(ZMQ_POLLIN)) != 0 }
    }
}
