import OuroSupport
import Foundation
import Logging

/// Errors that end a worker.
public enum WorkerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The coordinator speaks another protocol version or sent an unknown command.
    case incompatibleCoordinator(String)
    /// `run()` was called twice.
    case alreadyRunning

    /// Human-readable text.
    public var description: String {
        switch self {
        case .incompatibleCoordinator(let s): return "incompatible coordinator: \(s)"
        case .alreadyRunning: return "worker is already running"
        }
    }
}

/// A worker daemon (cluster.md §1–§4): connects a DEALER socket, announces itself with READY,
/// runs tasks on a compute thread while the calling thread keeps heartbeating, reconnects with
/// exponential back-off when the coordinator goes silent, and exits on DISCONNECT.
/// Control and start flags are lock boxes (`Locked`); the socket and the unsent outcomes live
/// in `run()`, on its thread.
public final class Worker: Sendable {
    /// Computes one task. Throw `TaskError.system(…)` for retryable trouble; any other error is
    /// an `application` error and fails the job.
    public typealias Handler = @Sendable (TaskSpec, TaskContext) throws -> TaskOutput

    private enum Control { case running, stop, kill }
    private enum SessionEnd { case exit(WorkerExit), lost }

    /// The configuration.
    public let config: WorkerConfig
    private let handler: Handler
    private let logger: Logger
    private let wakeup: Wakeup
    private let control = Locked(Control.running)
    private let started = Locked(false)

    /// Creates a worker; nothing connects until `run()`.
    public init(config: WorkerConfig, logger: Logger = Logger(label: "ouromamba.cluster.worker"),
                handler: @escaping Handler) throws {
        var c = config
        c.info.credit = min(max(c.info.credit, 1), 2)
        c.info.protocolVersion = ProtocolVersion.current
        self.config = c
        self.handler = handler
        self.logger = logger
        wakeup = try Wakeup()
    }

    /// Asks `run()` to send DISCONNECT and return `.stopped`. Thread-safe.
    public func stop() {
        control.withLock { if $0 == .running { $0 = .stop } }
        wakeup.signal()
    }

    /// Simulates a crash: `run()` drops the socket without DISCONNECT, stops heartbeating and
    /// returns `.killed`; a running handler finishes in the background and its result is discarded.
    public func kill() {
        control.withLock { $0 = .kill }
        wakeup.signal()
    }

    /// Runs until DISCONNECT, `stop()`, `kill()` or `maxReconnects`. Blocks the calling thread,
    /// which does all socket I/O and heartbeats; the handler runs on a separate compute thread.
    public func run() throws -> WorkerExit {
        let first = started.withLock { (s: inout Bool) -> Bool in
            defer { s = true }
            return !s
        }
        guard first else { throw WorkerError.alreadyRunning }
        let context = try config.sharedContext ?? ZMQContext()
        let compute = ComputeQueue(handler: handler, workerId: config.info.workerId, wakeup: wakeup, logger: logger)
        defer { compute.stop() }
        var backoff = Backoff(initial: config.reconnectInitial, maximum: config.reconnectMax)
        // Outcomes not yet sent survive a reconnect.
        var unsent: [ComputeQueue.Outcome] = []
        while true {
            switch try session(context, compute, &backoff, &unsent) {
            case .exit(let e):
                logger.info("worker \(config.info.workerId) exits: \(e)")
                return e
            case .lost:
                if let cap = config.maxReconnects, backoff.failures >= cap {
                    return .gaveUp(reconnects: backoff.failures)
                }
                let delay = backoff.next()
                logger.warning("worker \(config.info.workerId): coordinator lost, reconnecting in \(delay) s")
                if let e = pause(delay) { return e }
            }
        }
    }

    /// Sleeps up to `seconds`, returning early with an exit when stopped or killed.
    private func pause(_ seconds: Double) -> WorkerExit? {
        let end = Clock.now() &+ Clock.nanos(seconds)
        while Clock.now() < end {
            switch control.current {
            case .stop: return .stopped
            case .kill: return .killed
            case .running: break
            }
            let ms = Int(min(Clock.seconds(end &- Clock.now()) * 1000 + 1, 100))
            if (try? Poller.pollIn([wakeup.target], timeoutMs: ms))?.first == true { wakeup.drain() }
        }
        return nil
    }

    /// One connection: from connect + READY until exit or loss of the coordinator.
    private func session(_ context: ZMQContext, _ compute: ComputeQueue, _ backoff: inout Backoff,
                         _ unsent: inout [ComputeQueue.Outcome]) throws -> SessionEnd {
        let socket = try ZMQSocket(context: context, kind: .dealer)
        defer { socket.close() }
        let suffix = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        try socket.setRoutingID(Array("\(config.info.workerId.prefix(200))#\(suffix)".utf8))
        try socket.setMaxMessageSize(Int64(config.limits.maxMessageBytes))
        try socket.applyClientSecurity(config.security)
        try socket.connect(config.endpoint)
        let hbNanos = Clock.nanos(config.heartbeatInterval)
        let livenessNanos = Clock.nanos(config.heartbeatInterval * Double(config.livenessIntervals))
        let pollMs = max(1, min(100, Int(config.heartbeatInterval * 1000 / 4)))
        var lastHeard = Clock.now()
        var lastSent = Clock.now()
        var heard = false

        func send(_ m: ProtocolMessage) -> Bool {
            do {
                try socket.send(m.encode(), dontWait: true)
                lastSent = Clock.now()
                return true
            } catch {
                logger.warning("worker \(config.info.workerId): send \(m.message.command.rawValue) failed: \(error)")
                return false
            }
        }

        _ = send(.ready(config.info))
        logger.info("worker \(config.info.workerId) connecting to \(config.endpoint)")
        while true {
            switch control.current {
            case .kill:
                return .exit(.killed)
            case .stop:
                _ = send(.disconnect(DisconnectInfo(reason: "worker stopping")))
                socket.close(linger: 1000)
                return .exit(.stopped)
            case .running: break
            }
            let ready = try Poller.pollIn([.socket(socket), wakeup.target], timeoutMs: pollMs)
            if ready[1] { wakeup.drain() }
            if ready[0] {
                for _ in 0..<64 {
                    let frames: [Frame]
                    do {
                        frames = try socket.receive(limits: config.limits.receiveLimits, dontWait: true)
                    } catch let e as ZMQError where e.wouldBlock {
                        break
                    } catch {
                        logger.warning("worker \(config.info.workerId): dropped a message: \(error)")
                        continue
                    }
                    let message: ProtocolMessage
                    do {
                        message = try ProtocolMessage.decode(frames[...], limits: config.limits)
                    } catch let e as ProtocolError where e.isIncompatiblePeer {
                        _ = send(.disconnect(DisconnectInfo(reason: "incompatible peer: \(e)")))
                        socket.close(linger: 500)
                        throw WorkerError.incompatibleCoordinator(e.description)
                    } catch {
                        logger.warning("worker \(config.info.workerId): malformed message from coordinator: \(error)")
                        continue
                    }
                    lastHeard = Clock.now()
                    if !heard {
                        heard = true
                        backoff.reset()
                    }
                    switch message {
                    case .task(let spec, let job):
                        if let model = spec.requiredModel, !config.info.models.contains(model) {
                            _ = send(.error(TaskErrorReport(taskId: spec.id, phase: spec.phase, attempt: spec.attempt,
                                                            errorClass: .application,
                                                            message: "model \(model) not available on this worker")))
                        } else {
                            compute.enqueue(spec, job)
                        }
                    case .heartbeat:
                        break
                    case .disconnect(let d):
                        if d.reregister {
                            logger.info("worker \(config.info.workerId): coordinator asks to re-register (\(d.reason))")
                            compute.dropQueued()
                            _ = send(.ready(config.info))
                        } else {
                            socket.close(linger: 500)
                            return .exit(.disconnected(reason: d.reason))
                        }
                    case .ready, .result, .error:
                        logger.warning("worker \(config.info.workerId): ignoring unexpected \(message.message.command.rawValue)")
                    }
                }
            }
            unsent += compute.takeOutbox()
            while let o = unsent.first {
                let ok: Bool
                switch o {
                case .result(let r): ok = send(.result(r))
                case .error(let e): ok = send(.error(e))
                }
                guard ok else { break }
                unsent.removeFirst()
            }
            let now = Clock.now()
            if now >= lastSent &+ hbNanos { _ = send(.heartbeat(compute.progress)) }
            if now > lastHeard && now - lastHeard > livenessNanos {
                compute.dropQueued()
                return .lost
            }
        }
    }
}
