/// Settings of a worker daemon.
public struct WorkerConfig: Sendable {
    /// The coordinator endpoint to connect to.
    public var endpoint: String
    /// Capabilities announced in READY (its `credit` is clamped to 1…2).
    public var info: WorkerInfo
    /// Heartbeat interval in seconds (default 1; use the coordinator's value).
    public var heartbeatInterval: Double
    /// The coordinator is lost after this many silent intervals (default 5).
    public var livenessIntervals: Int
    /// First reconnection delay in seconds (default 1), doubled after each failure.
    public var reconnectInitial: Double
    /// Largest reconnection delay in seconds (default 32).
    public var reconnectMax: Double
    /// Give up after this many consecutive reconnections without hearing from a coordinator (nil: never).
    public var maxReconnects: Int?
    /// Message size limits.
    public var limits: WireLimits
    /// CURVE settings.
    public var security: WorkerSecurity
    /// The coordinator's context, for `inproc://` endpoints (in-memory transport).
    public var sharedContext: ZMQContext? = nil

    /// Creates a configuration with the defaults of cluster.md.
    public init(endpoint: String, info: WorkerInfo, heartbeatInterval: Double = 1, livenessIntervals: Int = 5,
                reconnectInitial: Double = 1, reconnectMax: Double = 32, maxReconnects: Int? = nil,
                limits: WireLimits = WireLimits(), security: WorkerSecurity = .none) {
        self.endpoint = endpoint
        self.info = info
        self.heartbeatInterval = heartbeatInterval
        self.livenessIntervals = livenessIntervals
        self.reconnectInitial = reconnectInitial
        self.reconnectMax = reconnectMax
        self.maxReconnects = maxReconnects
        self.limits = limits
        self.security = security
    }
}

/// Why `Worker.run()` returned.
public enum WorkerExit: Sendable, Equatable {
    /// The coordinator sent DISCONNECT.
    case disconnected(reason: String)
    /// `stop()` was called (DISCONNECT was sent to the coordinator).
    case stopped
    /// `kill()` was called (the socket was dropped without a word).
    case killed
    /// `maxReconnects` reconnections failed in a row.
    case gaveUp(reconnects: Int)
}

/// Exponential back-off: `initial`, doubling, capped at `maximum`.
struct Backoff {
    let initial: Double
    let maximum: Double
    private(set) var failures = 0

    init(initial: Double, maximum: Double) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The next delay, and counts one more failure.
    mutating func next() -> Double {
        defer { failures += 1 }
        return min(maximum, initial * pow2(min(failures, 30)))
    }

    mutating func reset() { failures = 0 }

    private func pow2(_ n: Int) -> Double { Double(1 << n) }
}
