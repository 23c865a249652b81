import Foundation
import Testing
@testable import OuroCluster

/// Heartbeats and reconnection with real sockets (100 ms heartbeats, dead after 500 ms).
@Suite(.serialized) struct LivenessTests {
    /// A peer that registers, takes a task and then stays connected but silent is declared dead
    /// after the liveness window; its task is re-dispatched with attempt 2.
    @Test func silentConnectedPeerIsDeclaredDead() throws {
        let coordinator = try Coordinator(config: Harness.coordinatorConfig(Harness.tcpEndpoint), logger: Harness.logger)
        defer { coordinator.shutdown() }
        let ctx = try ZMQContext()
        let mute = try ZMQSocket(context: ctx, kind: .dealer)
        try mute.connect(coordinator.endpoint)
        let info = WorkerInfo(workerId: "mute", backend: "cpu/test", engineVersion: "test", threads: 1)
        // Before the READY: the coordinator hears the peer last when it handles it, so the
        // silence is measured from no earlier than this.
        let start = Date()
        try mute.send(ProtocolMessage.ready(info).encode())
        #expect(coordinator.waitForWorkers(1, timeout: 5))
        let phase = BackgroundPhase(coordinator, "gen", Harness.tasks(1))
        #expect(Harness.eventually { coordinator.snapshot().tasksInFlight == 1 })
        let good = try RunningWorker(Harness.workerConfig(coordinator.endpoint, id: "good"))
        defer { good.stop() }
        guard case .success(let outcome)? = phase.result() else {
            Issue.record("phase did not complete")
            return
        }
        #expect(Date().timeIntervalSince(start) >= 0.45, "death needs 5 silent 100 ms intervals")
        #expect(outcome.results["t00"]?.attempt == 2)
        #expect(outcome.results["t00"]?.workerId == "good")
        #expect(coordinator.snapshot().lostWorkers == 1)
    }

    /// A task that runs ten times longer than the liveness window does not silence the worker,
    /// and its progress reaches the coordinator through heartbeats.
    @Test func longTaskKeepsHeartbeating() throws {
        let net = try Harness.inMemory()
        let coordinator = try Coordinator(config: Harness.coordinatorConfig(net.endpoint, context: net.context), logger: Harness.logger)
        defer { coordinator.shutdown() }
        let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "slow")) { spec, ctx in
            for k in 1...100 {
                ctx.reportProgress(step: k, of: 100)
                Thread.sleep(forTimeInterval: 0.01)
            }
            return try Harness.compute(spec)
        }
        defer { worker.stop() }
        let phase = BackgroundPhase(coordinator, "gen", Harness.tasks(1))
        #expect(Harness.eventually { (coordinator.snapshot().workers.first?.step ?? 0) > 10 })
        #expect(coordinator.snapshot().workers.first?.steps == 100)
        guard case .success(let outcome)? = phase.result() else {
            Issue.record("phase did not complete")
            return
        }
        #expect(outcome.results["t00"]?.attempt == 1)
        #expect(coordinator.snapshot().lostWorkers == 0)
    }

    /// The worker re-registers when asked, and reconnects (with a new routing id) after its
    /// coordinator goes silent.
    @Test func workerReRegistersAndReconnects() throws {
        let ctx = try ZMQContext()
        let router = try ZMQSocket(context: ctx, kind: .router)
        try router.bind(Harness.tcpEndpoint)
        let worker = try RunningWorker(Harness.workerConfig(router.lastEndpoint, id: "w"))
        defer { worker.worker.kill() }
        let limits = ReceiveLimits(maxFrames: 8, maxBytes: 1 << 16)

        /// Next READY (skipping heartbeats), with its routing id.
        func nextReady(timeout: Double = 5) throws -> Frame? {
            let end = Date().addingTimeInterval(timeout)
            while Date() < end {
                guard try Poller.pollIn([.socket(router)], timeoutMs: 100) == [true] else { continue }
                let f = try router.receive(limits: limits)
                if f.count >= 3, f[2].string == "READY" { return f[0] }
            }
            return nil
        }

        guard let first = try nextReady() else {
            Issue.record("no READY")
            return
        }
        // Before the last message the worker hears: its silence is measured from no earlier than this.
        let start = Date()
        try router.send([first] + ProtocolMessage.disconnect(DisconnectInfo(reason: "who are you", reregister: true)).encode())
        let again = try nextReady()
        #expect(again == first, "re-registration keeps the connection")
        // Say nothing: after 5 silent intervals the worker drops the connection and reconnects.
        let third = try nextReady()
        #expect(third != nil && third != first, "a reconnection uses a fresh routing id")
        #expect(Date().timeIntervalSince(start) >= 0.45)
        try router.send([third ?? first] + ProtocolMessage.disconnect(DisconnectInfo(reason: "bye")).encode())
        #expect(worker.exitReason() == .disconnected(reason: "bye"))
    }
}
