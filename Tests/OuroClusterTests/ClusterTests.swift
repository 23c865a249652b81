import OuroSupport
import Foundation
import Testing
@testable import OuroCluster

/// End-to-end tests with real sockets and threads in one process. Serialized: they use tight
/// heartbeats (100 ms, dead after 500 ms) and must not compete with each other for 2 cores.
@Suite(.serialized) struct ClusterTests {
    func check(_ outcome: PhaseOutcome, _ tasks: [TaskSpec]) {
        let expected = Harness.expected(tasks)
        #expect(outcome.results.count == tasks.count)
        for t in tasks {
            guard let r = outcome.results[t.id] else {
                Issue.record("missing result \(t.id)")
                continue
            }
            #expect(r.checksum == expected[t.id])
            #expect(r.isIntact)
            #expect(r.frames == (try? Harness.compute(t).frames))
        }
    }

    /// `inproc`: libzmq's in-memory transport, coordinator and workers on one shared context
    /// (no sockets, no files): the protocol, dispatch and liveness run without a network.
    @Test(arguments: [("tcp", 1), ("tcp", 3), ("ipc", 1), ("ipc", 3), ("inproc", 1), ("inproc", 3)])
    func roundTrip(transport: String, workerCount: Int) throws {
        let memory = transport == "inproc" ? try Harness.inMemory() : nil
        let shared = memory?.context
        let endpoint = switch transport {
        case "tcp": Harness.tcpEndpoint
        case "ipc": Harness.ipcEndpoint()
        default: memory!.endpoint
        }
        var config = Harness.coordinatorConfig(endpoint)
        config.sharedContext = shared
        let coordinator = try Coordinator(config: config, logger: Harness.logger)
        defer { coordinator.shutdown() }
        let workers = try (0..<workerCount).map {
            var w = Harness.workerConfig(coordinator.endpoint, id: "w\($0)", credit: $0 == 0 ? 2 : 1)
            w.sharedContext = shared
            return try RunningWorker(w)
        }
        #expect(coordinator.waitForWorkers(workerCount, timeout: 5))
        let tasks = Harness.tasks(20)
        var reports = 0
        let outcome = try coordinator.runPhase("gen", tasks: tasks) { _ in reports += 1 }
        check(outcome, tasks)
        #expect(reports >= 1)
        if workerCount > 1 {
            #expect(Set(outcome.results.values.map(\.workerId)).count > 1, "work should spread over workers")
        }
        // Workers stay connected between phases.
        let second = try coordinator.runPhase("calib", tasks: Array(tasks.prefix(5)))
        #expect(second.results.count == 5)
        #expect(coordinator.snapshot().workers.filter { $0.state != .dead }.count == workerCount)
        coordinator.shutdown()
        for w in workers {
            #expect(w.exitReason() == .disconnected(reason: "coordinator shutting down"))
        }
    }

    @Test func workerKilledMidTaskIsReplaced() throws {
        let net = try Harness.inMemory()
        let coordinator = try Coordinator(config: Harness.coordinatorConfig(net.endpoint, context: net.context), logger: Harness.logger)
        defer { coordinator.shutdown() }
        let started = DispatchSemaphore(value: 0)
        let victimTask = Locked<String?>(nil)
        let victim = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "victim")) { spec, ctx in
            victimTask.withLock { $0 = $0 ?? spec.id }
            started.signal()
            for _ in 0..<500 where !ctx.isCancelled { Thread.sleep(forTimeInterval: 0.01) }
            throw TaskError.system("cancelled")
        }
        #expect(coordinator.waitForWorkers(1, timeout: 5))
        let tasks = Harness.tasks(6)
        let phase = BackgroundPhase(coordinator, "gen", tasks)
        #expect(started.wait(timeout: .now() + 5) == .success)
        victim.worker.kill()
        #expect(victim.exitReason() == .killed)
        let rescuer = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "rescuer"))
        defer { rescuer.stop() }
        guard case .success(let outcome)? = phase.result() else {
            Issue.record("phase did not complete")
            return
        }
        check(outcome, tasks)
        guard let id = victimTask.current else { return }
        #expect(outcome.results[id]?.attempt == 2)
        #expect(outcome.results[id]?.workerId == "rescuer")
        let snap = coordinator.snapshot()
        #expect(snap.lostWorkers == 1)
        #expect(snap.workers.contains { $0.workerId == "victim" && $0.state == .dead })
    }

    @Test func systemErrorFailsTheJobAfterTheRetryCap() throws {
        let net = try Harness.inMemory()
        let coordinator = try Coordinator(config: Harness.coordinatorConfig(net.endpoint, context: net.context, maxAttempts: 3), logger: Harness.logger)
        defer { coordinator.shutdown() }
        let calls = Counter()
        let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "flaky")) { spec, _ in
            calls.bump(spec.id)
            throw TaskError.system("scratch disk full")
        }
        defer { worker.stop() }
        do {
            _ = try coordinator.runPhase("gen", tasks: Harness.tasks(1))
            Issue.record("phase should fail")
        } catch ClusterError.taskFailed(let f) {
            #expect(f.errorClass == .system && f.retriesExhausted && f.attempt == 3)
            #expect(f.message == "scratch disk full")
            #expect(f.taskId == "t00" && f.workerId == "flaky")
        }
        #expect(calls["t00"] == 3)
    }

    @Test func applicationErrorFailsTheJobImmediately() throws {
        let net = try Harness.inMemory()
        let coordinator = try Coordinator(config: Harness.coordinatorConfig(net.endpoint, context: net.context), logger: Harness.logger)
        defer { coordinator.shutdown() }
        struct Boom: Error {}
        let calls = Counter()
        let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "w")) { spec, _ in
            calls.bump(spec.id)
            if spec.id == "t03" { throw Boom() }
            return try Harness.compute(spec)
        }
        defer { worker.stop() }
        do {
            _ = try coordinator.runPhase("gen", tasks: Harness.tasks(8))
            Issue.record("phase should fail")
        } catch ClusterError.taskFailed(let f) {
            #expect(f.errorClass == .application && !f.retriesExhausted && f.attempt == 1 && f.taskId == "t03")
        }
        #expect(calls["t03"] == 1)
        // The coordinator is still usable for the next phase.
        let ok = try coordinator.runPhase("retry", tasks: Harness.tasks(2))
        #expect(ok.results.count == 2)
    }

    @Test func missingModelFailsWithAClearMessage() throws {
        let net = try Harness.inMemory()
        let coordinator = try Coordinator(config: Harness.coordinatorConfig(net.endpoint, context: net.context), logger: Harness.logger)
        defer { coordinator.shutdown() }
        let have = String(repeating: "a", count: 64), need = String(repeating: "b", count: 64)
        let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "w", models: [have]))
        defer { worker.stop() }
        #expect(try coordinator.runPhase("ok", tasks: Harness.tasks(2, model: have)).results.count == 2)
        do {
            _ = try coordinator.runPhase("gen", tasks: Harness.tasks(2, model: need))
            Issue.record("phase should fail")
        } catch ClusterError.taskFailed(let f) {
            #expect(f.errorClass == .application)
            #expect(f.message == "model \(need) not available on this worker")
            #expect(f.description.contains("on worker w"))
        }
    }

    @Test func hostilePeerIsRejectedAndTheJobStillCompletes() throws {
        var config = Harness.coordinatorConfig(Harness.tcpEndpoint)
        config.limits = WireLimits(maxMessageBytes: 64 << 10, maxMetadataBytes: 8 << 10, maxBinaryFrames: 16)
        let coordinator = try Coordinator(config: config, logger: Harness.logger)
        defer { coordinator.shutdown() }
        let ctx = try ZMQContext()
        let raw = try ZMQSocket(context: ctx, kind: .dealer)
        try raw.setRoutingID(Array("raw".utf8))
        try raw.connect(coordinator.endpoint)
        let limits = ReceiveLimits(maxFrames: 8, maxBytes: 1 << 20)

        func expectDisconnect(containing text: String) throws {
            guard try Poller.pollIn([.socket(raw)], timeoutMs: 5000) == [true] else {
                Issue.record("no DISCONNECT for \(text)")
                return
            }
            let reply = try ProtocolMessage.decode(try raw.receive(limits: limits)[...], limits: WireLimits())
            guard case .disconnect(let d) = reply else {
                Issue.record("expected DISCONNECT, got \(reply.message.command)")
                return
            }
            #expect(d.reason.contains(text), "\(d.reason)")
        }

        try raw.send([Frame("garbage")])
        try expectDisconnect(containing: "frames")
        try raw.send([Frame("OMQ/9"), Frame("READY"), Frame(#"{"frame_sizes":[]}"#)])
        try expectDisconnect(containing: "unsupported protocol version")
        try raw.send([Frame("OMQ/1"), Frame("SHUTDOWN_EVERYTHING"), Frame("{}")])
        try expectDisconnect(containing: "unknown command")
        try raw.send([Frame("OMQ/1"), Frame("READY"), Frame(#"{"frame_sizes":[5],"worker_id":"x","protocol":1}"#)])
        try expectDisconnect(containing: "do not match")
        let chunk = Frame([UInt8](repeating: 7, count: 30_000))
        try raw.send([Frame("OMQ/1"), Frame("RESULT"), Frame("{}"), chunk, chunk, chunk])  // 90 KB in total > 64 KiB
        try expectDisconnect(containing: "receive limits")
        #expect(Harness.eventually { coordinator.snapshot().rejectedMessages == 5 })
        // One part larger than ZMQ_MAXMSGSIZE: libzmq itself drops the connection.
        try raw.send([Frame([UInt8](repeating: 1, count: 100_000))])
        raw.close()

        let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, id: "good"))
        defer { worker.stop() }
        let tasks = Harness.tasks(20)
        check(try coordinator.runPhase("gen", tasks: tasks), tasks)
        #expect(coordinator.snapshot().lostWorkers == 0)
    }

    @Test func workerExitsOnUnknownProtocolVersion() throws {
        let net = try Harness.inMemory()
        let ctx = net.context
        let router = try ZMQSocket(context: ctx, kind: .router)
        try router.bind(net.endpoint)
        let worker = try RunningWorker(Harness.workerConfig(router.lastEndpoint, context: net.context, id: "w"))
        #expect(try Poller.pollIn([.socket(router)], timeoutMs: 5000) == [true])
        let ready = try router.receive(limits: ReceiveLimits(maxFrames: 8, maxBytes: 1 << 16))
        #expect(ready.count == 4 && ready[2].string == "READY")
        try router.send([ready[0], Frame("OMQ/7"), Frame("TASK"), Frame("{}")])
        guard case .failure(let e)? = worker.exit() else {
            Issue.record("worker should exit with an error")
            return
        }
        #expect(e as? WorkerError == .incompatibleCoordinator(ProtocolError.unsupportedVersion("OMQ/7").description))
    }

    @Test func statusFileIsWritten() throws {
        let net = try Harness.inMemory()
        let dir = Harness.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = Harness.coordinatorConfig(net.endpoint, context: net.context)
        config.statusFile = dir.appendingPathComponent("status.json")
        let coordinator = try Coordinator(config: config, logger: Harness.logger)
        defer { coordinator.shutdown() }
        let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "w"))
        defer { worker.stop() }
        _ = try coordinator.runPhase("gen", tasks: Harness.tasks(4))
        let data = try Data(contentsOf: dir.appendingPathComponent("status.json"))
        let status = try JSONDecoder().decode(ClusterProgress.self, from: data)
        #expect(status.phase == "gen" && status.tasksDone == 4 && status.tasksTotal == 4)
        #expect(status.workers.map(\.workerId) == ["w"])
    }

    @Test func invalidTaskListsAreRefused() throws {
        let net = try Harness.inMemory()
        let coordinator = try Coordinator(config: Harness.coordinatorConfig(net.endpoint, context: net.context), logger: Harness.logger)
        defer { coordinator.shutdown() }
        #expect(throws: ClusterError.self) { try coordinator.runPhase("p", tasks: [TaskSpec(id: "a"), TaskSpec(id: "a")]) }
        #expect(throws: ClusterError.self) { try coordinator.runPhase("p", tasks: [TaskSpec(id: "")]) }
        #expect(throws: ClusterError.self) { try coordinator.runPhase("p", tasks: [TaskSpec(id: "x", metadata: ["v": .double(.nan)])]) }
    }
}
