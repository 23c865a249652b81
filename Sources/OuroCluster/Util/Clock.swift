import Foundation

/// Monotonic time in nanoseconds.
enum Clock {
    /// Now.
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    /// Seconds to nanoseconds (negative → 0).
    static func nanos(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }
    /// Nanoseconds to seconds.
    static func seconds(_ nanos: UInt64) -> Double { Double(nanos) / 1e9 }
}

/// Runs `body` on a new thread; `join` waits for it (with a timeout).
final class ThreadHandle: Sendable {
    private let done = DispatchSemaphore(value: 0)

    /// Starts `body` on a thread named `name`.
    init(name: String, _ body: @escaping @Sendable () -> Void) {
        let done = self.done
        let t = Thread {
            body()
            done.signal()
        }
        t.name = name
        t.start()
    }

    /// Waits until the thread finished; false on timeout.
    @discardableResult
    func join(timeout: Double) -> Bool {
        if done.wait(timeout: .now() + timeout) == .success {
            done.signal()
            return true
        }
        return false
    }
}
