import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A self-pipe that lets any thread wake a thread blocked in `Poller.pollIn`.
/// `signal()` is thread-safe; `drain()` belongs to the polling thread.
final class Wakeup: Sendable {
    private let readFD: Int32
    private let writeFD: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ZMQError(code: errno, operation: "pipe") }
        readFD = fds[0]
        writeFD = fds[1]
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    /// The target to poll.
    var target: PollTarget { .fd(readFD) }

    /// Wakes the poller (a full pipe already means "wake up", so errors are ignored).
    func signal() {
        var b: UInt8 = 1
        _ = write(writeFD, &b, 1)
    }

    /// Empties the pipe.
    func drain() {
        var buf = [UInt8](repeating: 0, count: 64)
        while buf.withUnsafeMutableBytes({ read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    }
}
