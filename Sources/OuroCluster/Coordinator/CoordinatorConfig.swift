import Foundation

/// Settings of a coordinator.
public struct CoordinatorConfig: Sendable {
    /// Endpoint to bind, for example `tcp://127.0.0.1:5570`, `tcp://127.0.0.1:*` (any free port),
    /// `ipc:///tmp/ouro.ipc` or, with CURVE only, `tcp://*:5570`.
    public var endpoint: String
    /// Job id sent with every TASK.
    public var jobId: String
    /// Configuration hash sent with every TASK.
    public var configurationHash: String
    /// Heartbeat interval in seconds (default 1).
    public var heartbeatInterval: Double
    /// A worker is dead after this many silent intervals (default 5).
    public var livenessIntervals: Int
    /// Attempts per task before a system failure fails the job (default 3).
    public var maxAttempts: Int
    /// A duplicate result with a different checksum fails the phase (default true); otherwise it is logged and counted.
    public var strictDeterminism: Bool
    /// Accept workers whose engine version, backend or thread count differ from the first worker's (default false).
    public var allowMixedBackends: Bool
    /// Message size limits.
    public var limits: WireLimits
    /// CURVE settings; `.none` is accepted only on loopback/ipc endpoints.
    public var security: CoordinatorSecurity
    /// Where to write the progress snapshot (atomically), if anywhere.
    public var statusFile: URL?
    /// Give up on a phase after this many seconds (nil: wait forever).
    public var phaseTimeout: Double?
    /// Minimum seconds between progress callbacks / status file writes (default 0.5).
    public var progressInterval: Double
    /// libzmq handshake timeout in milliseconds (default 5000): half-open connections are dropped.
    public var handshakeTimeoutMs: Int32
    /// SHA-256 of the model every task needs: a worker that does not list it in READY is
    /// refused at registration (DISCONNECT), so it never receives a task (nil: no check).
    public var requiredModel: String? = nil
    /// A context shared with the workers, for `inproc://` endpoints (in-memory transport:
    /// tests, or workers on threads of this process). The coordinator does not terminate it.
    public var sharedContext: ZMQContext? = nil

    /// Creates a configuration with the defaults of cluster.md.
    public init(endpoint: String, jobId: String = "job", configurationHash: String = "",
                heartbeatInterval: Double = 1, livenessIntervals: Int = 5, maxAttempts: Int = 3,
                strictDeterminism: Bool = true, allowMixedBackends: Bool = false, limits: WireLimits = WireLimits(),
                security: CoordinatorSecurity = .none, statusFile: URL? = nil, phaseTimeout: Double? = nil,
                progressInterval: Double = 0.5, handshakeTimeoutMs: Int32 = 5000) {
        self.endpoint = endpoint
        self.jobId = jobId
        self.configurationHash = configurationHash
        self.heartbeatInterval = heartbeatInterval
        self.livenessIntervals = livenessIntervals
        self.maxAttempts = maxAttempts
        self.strictDeterminism = strictDeterminism
        self.allowMixedBackends = allowMixedBackends
        self.limits = limits
        self.security = security
        self.statusFile = statusFile
        self.phaseTimeout = phaseTimeout
        self.progressInterval = progressInterval
        self.handshakeTimeoutMs = handshakeTimeoutMs
    }
}
