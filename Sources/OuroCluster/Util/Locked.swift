import Foundation

/// A value guarded by a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    var current: Value { withLock { $0 } }
}

/// Monotonic time in nanoseconds.
enum Clock {
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    static func nanos(_ seconds: Double) -> UInt64 { UInt64(max(0, seconds) * 1e9) }
    static func seconds(_ nanos: UInt64) -> Double { Double(nanos) / 1e9 }
}

/// Runs `body` on a new thread; `join` waits for it (with a timeout).
final class ThreadHandle: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping () -> Void) {
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
