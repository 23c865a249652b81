import Testing
@testable import OuroCluster

/// The coordinator's bookkeeping, driven directly with synthetic time (no sockets).
@Suite struct DispatchStateTests {
    let second: UInt64 = 1_000_000_000

    func makeState(maxAttempts: Int = 3, strict: Bool = true) -> DispatchState {
        DispatchState(settings: .init(job: JobContext(jobId: "j", configurationHash: "c"), heartbeatNanos: second,
                                      livenessNanos: 5 * second, maxAttempts: maxAttempts, strictDeterminism: strict,
                                      allowMixedBackends: false),
                      logger: Harness.logger)
    }

    func info(_ id: String, credit: Int = 1, backend: String = "cpu/test") -> WorkerInfo {
        WorkerInfo(workerId: id, backend: backend, engineVersion: "test", threads: 1, credit: credit)
    }

    /// TASK messages in the outbox, as (peer, task id, attempt).
    func dispatched(_ s: inout DispatchState) -> [(String, String, Int)] {
        s.takeOutbox().compactMap { o in
            if case .task(let t, _) = o.message { return (o.peer.description, t.id, t.attempt) }
            return nil
        }
    }

    func result(_ id: String, _ byte: UInt8, attempt: Int = 1) -> TaskResult {
        TaskResult(taskId: id, phase: "p", attempt: attempt, metadata: [:], frames: [Frame([byte])])
    }

    let w1 = PeerID(Frame("w1")), w2 = PeerID(Frame("w2")), w3 = PeerID(Frame("w3"))

    @Test func creditBoundsTasksInFlight() {
        var s = makeState()
        s.handle(.ready(info("a")), from: w1, now: 0)
        s.handle(.ready(info("b")), from: w2, now: 0)
        s.handle(.ready(info("c", credit: 2)), from: w3, now: 0)
        s.beginPhase(name: "p", tasks: (0..<5).map { TaskSpec(id: "t\($0)", phase: "p") }, resumed: [:], journaling: false, now: 0)
        let first = dispatched(&s)
        #expect(first.count == 4)
        #expect(first.filter { $0.0 == "w3" }.count == 2)
        #expect(first.filter { $0.0 == "w1" }.count == 1)
        #expect(s.phase?.pending == ["t4"])
        guard let w1Task = first.first(where: { $0.0 == "w1" })?.1 else { return }
        s.handle(.result(result(w1Task, 1)), from: w1, now: 1)
        #expect(dispatched(&s).map { $0.0 + ":" + $0.1 } == ["w1:t4"])
    }

    /// Per-worker figures: a task queued behind another on the same worker (credit 2) counts
    /// from that one's result; an attempt lost with its worker counts for no one.
    @Test func busyTimePerWorker() {
        var s = makeState()
        s.handle(.ready(info("a", credit: 2)), from: w1, now: 0)
        s.handle(.ready(info("b")), from: w2, now: 0)
        s.beginPhase(name: "p", tasks: (0..<3).map { TaskSpec(id: "t\($0)", phase: "p") }, resumed: [:], journaling: false, now: 0)
        let sent = Dictionary(grouping: dispatched(&s), by: \.0).mapValues { $0.map(\.1) }
        #expect(sent["w1"]?.count == 2 && sent["w2"]?.count == 1)
        guard let a = sent["w1"], let b = sent["w2"] else { return }
        s.handle(.result(result(a[0], 1)), from: w1, now: 2 * second)   // busy 0 → 2
        s.handle(.result(result(a[1], 2)), from: w1, now: 3 * second)   // queued behind it: 2 → 3
        s.handle(.result(result(b[0], 3)), from: w2, now: 4 * second)   // 0 → 4
        let t = s.phase?.workerTimings ?? []
        #expect(t.map(\.workerId) == ["a", "b"] && t.map(\.tasks) == [2, 1])
        #expect(t.map(\.busySeconds) == [3, 4])

        var l = makeState()
        l.handle(.ready(info("a")), from: w1, now: 0)
        l.beginPhase(name: "p", tasks: [TaskSpec(id: "t", phase: "p")], resumed: [:], journaling: false, now: 0)
        _ = dispatched(&l)
        l.handle(.ready(info("b")), from: w2, now: 4 * second)
        l.tick(now: 6 * second)   // a is lost; t goes to b
        #expect(dispatched(&l).map(\.0) == ["w2"])
        l.handle(.result(result("t", 1, attempt: 2)), from: w2, now: 7 * second)
        #expect(l.phase?.workerTimings == [WorkerTiming(workerId: "b", tasks: 1, busySeconds: 1)])
    }

    @Test func silentWorkerTasksAreRequeuedWithNextAttempt() {
        var s = makeState()
        s.handle(.ready(info("a")), from: w1, now: 0)
        s.beginPhase(name: "p", tasks: [TaskSpec(id: "t", phase: "p")], resumed: [:], journaling: false, now: 0)
        #expect(dispatched(&s).map(\.2) == [1])
        s.handle(.ready(info("b")), from: w2, now: 4 * second)
        s.tick(now: 6 * second)   // w1 silent for 6 s > 5 s; w2 heard 2 s ago
        #expect(s.workers[w1] == nil)
        #expect(s.counters.lostWorkers == 1)
        let again = dispatched(&s)
        #expect(again.count == 1 && again[0].0 == "w2" && again[0].2 == 2)
        #expect(s.snapshot(now: 6 * second, authFailures: 0).workers.contains { $0.workerId == "a" && $0.state == .dead })
    }

    @Test func systemErrorsRetryUpToTheCapApplicationErrorsFailAtOnce() {
        var s = makeState(maxAttempts: 2)
        s.handle(.ready(info("a")), from: w1, now: 0)
        s.beginPhase(name: "p", tasks: [TaskSpec(id: "t", phase: "p")], resumed: [:], journaling: false, now: 0)
        _ = dispatched(&s)
        s.handle(.error(TaskErrorReport(taskId: "t", phase: "p", attempt: 1, errorClass: .system, message: "oom")), from: w1, now: 1)
        #expect(dispatched(&s).map(\.2) == [2])
        #expect(s.phase?.failure == nil)
        // A stale report for attempt 1 changes nothing.
        s.handle(.error(TaskErrorReport(taskId: "t", phase: "p", attempt: 1, errorClass: .application, message: "late")), from: w2, now: 1)
        #expect(s.phase?.failure == nil)
        s.handle(.error(TaskErrorReport(taskId: "t", phase: "p", attempt: 2, errorClass: .system, message: "oom")), from: w1, now: 2)
        guard case .taskFailed(let f)? = s.phase?.failure else {
            Issue.record("phase should fail at the retry cap")
            return
        }
        #expect(f.attempt == 2 && f.retriesExhausted && f.message == "oom")

        var t = makeState()
        t.handle(.ready(info("a")), from: w1, now: 0)
        t.beginPhase(name: "p", tasks: [TaskSpec(id: "t", phase: "p")], resumed: [:], journaling: false, now: 0)
        t.handle(.error(TaskErrorReport(taskId: "t", phase: "p", attempt: 1, errorClass: .application, message: "NaN")), from: w1, now: 1)
        guard case .taskFailed(let g)? = t.phase?.failure else {
            Issue.record("application error should fail at once")
            return
        }
        #expect(g.attempt == 1 && !g.retriesExhausted && g.errorClass == .application)
    }

    @Test func duplicatesAreComparedByChecksum() {
        var s = makeState()
        s.handle(.ready(info("a")), from: w1, now: 0)
        s.beginPhase(name: "p", tasks: [TaskSpec(id: "t", phase: "p")], resumed: [:], journaling: true, now: 0)
        s.handle(.result(result("t", 7)), from: w1, now: 1)
        #expect(s.phase?.isComplete == true)
        #expect(s.takeJournal().contains { if case .completed = $0 { return true }; return false })
        s.handle(.result(result("t", 7, attempt: 2)), from: w2, now: 1)
        #expect(s.counters.duplicates == 1 && s.counters.determinismViolations == 0)
        #expect(s.phase?.failure == nil)
        s.handle(.result(result("t", 8, attempt: 2)), from: w2, now: 1)
        #expect(s.counters.determinismViolations == 1)
        guard case .determinismViolation(_, let id, _, _)? = s.phase?.failure else {
            Issue.record("strict mode must fail on a checksum mismatch")
            return
        }
        #expect(id == "t")
    }

    @Test func corruptedResultIsASystemFailure() {
        var s = makeState()
        s.handle(.ready(info("a")), from: w1, now: 0)
        s.beginPhase(name: "p", tasks: [TaskSpec(id: "t", phase: "p")], resumed: [:], journaling: false, now: 0)
        _ = dispatched(&s)
        s.handle(.result(result("t", 1)), from: w1, checksumOK: false, now: 1)
        #expect(s.phase?.results.isEmpty == true)
        #expect(dispatched(&s).map(\.2) == [2])
    }

    @Test func unknownPeersAndMismatchedBackendsAreDisconnected() {
        var s = makeState()
        s.handle(.heartbeat(HeartbeatInfo()), from: w1, now: 0)
        let out = s.takeOutbox()
        guard case .disconnect(let d)? = out.first?.message else {
            Issue.record("expected DISCONNECT")
            return
        }
        #expect(d.reregister)
        s.handle(.ready(info("a")), from: w1, now: 0)
        s.handle(.ready(info("b", backend: "gpu/cuda")), from: w2, now: 0)
        #expect(s.workers[w2] == nil)
        #expect(s.takeOutbox().contains { o in
            if case .disconnect(let d) = o.message { return o.peer == w2 && !d.reregister && d.reason.contains("backend mismatch") }
            return false
        })
    }
}
