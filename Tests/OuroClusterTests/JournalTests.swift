import Foundation
import Testing
@testable import OuroCluster

@Suite(.serialized) struct JournalTests {
    /// Run 1 fails at task t10 after t00–t09 completed (one worker, credit 1, FIFO dispatch);
    /// run 2, with a new coordinator and the same job directory, recomputes only the rest.
    @Test func resumeSkipsVerifiedCompletedTasks() throws {
        let dir = Harness.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tasks = Harness.tasks(20)

        let firstCalls = Counter()
        do {
            let net = try Harness.inMemory()
            let journal = try Journal.open(directory: dir, configurationHash: "cfg-1", logger: Harness.logger)
            let coordinator = try Coordinator(config: Harness.coordinatorConfig(net.endpoint, context: net.context), logger: Harness.logger)
            defer { coordinator.shutdown() }
            let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "w1")) { spec, _ in
                firstCalls.bump(spec.id)
                if spec.id == "t10" { throw TaskError.application("simulated crash") }
                return try Harness.compute(spec)
            }
            defer { worker.stop() }
            #expect(throws: ClusterError.self) { try coordinator.runPhase("gen", tasks: tasks, journal: journal) }
            #expect(journal.completedTasks == 10)
        }
        #expect(firstCalls.total == 11)

        let secondCalls = Counter()
        let journal = try Journal.open(directory: dir, configurationHash: "cfg-1", logger: Harness.logger)
        #expect(journal.completedTasks == 10)
        let net = try Harness.inMemory()   // a new name: libzmq frees a closed inproc name asynchronously
        let coordinator = try Coordinator(config: Harness.coordinatorConfig(net.endpoint, context: net.context), logger: Harness.logger)
        defer { coordinator.shutdown() }
        let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "w2")) { spec, _ in
            secondCalls.bump(spec.id)
            return try Harness.compute(spec)
        }
        defer { worker.stop() }
        let outcome = try coordinator.runPhase("gen", tasks: tasks, journal: journal)
        #expect(outcome.resumed == 10)
        #expect(journal.resumedTasks == 10)
        #expect(secondCalls.total == 10)
        #expect((0..<10).allSatisfy { secondCalls[String(format: "t%02d", $0)] == 0 })
        let expected = Harness.expected(tasks)
        #expect(outcome.results.mapValues(\.checksum) == expected)
        #expect(outcome.results["t03"]?.workerId == "w1")
        #expect(outcome.results["t15"]?.workerId == "w2")
        #expect(journal.completedTasks == 20)
    }

    @Test func damagedStoredResultIsRecomputed() throws {
        let dir = Harness.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tasks = Harness.tasks(4)
        do {
            let net = try Harness.inMemory()
            let journal = try Journal.open(directory: dir, configurationHash: "c", logger: Harness.logger)
            let coordinator = try Coordinator(config: Harness.coordinatorConfig(net.endpoint, context: net.context), logger: Harness.logger)
            defer { coordinator.shutdown() }
            let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "w"))
            defer { worker.stop() }
            _ = try coordinator.runPhase("gen", tasks: tasks, journal: journal)
        }
        let results = dir.appendingPathComponent("results")
        let blobs = try FileManager.default.contentsOfDirectory(atPath: results.path).filter { $0.hasSuffix(".omqr") }
        #expect(blobs.count == 4)
        guard let victim = blobs.first else { return }
        var bytes = [UInt8](try Data(contentsOf: results.appendingPathComponent(victim)))
        bytes[bytes.count - 1] ^= 0xff
        try Data(bytes).write(to: results.appendingPathComponent(victim))

        let calls = Counter()
        let journal = try Journal.open(directory: dir, configurationHash: "c", logger: Harness.logger)
        let net = try Harness.inMemory()   // a new name: libzmq frees a closed inproc name asynchronously
        let coordinator = try Coordinator(config: Harness.coordinatorConfig(net.endpoint, context: net.context), logger: Harness.logger)
        defer { coordinator.shutdown() }
        let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, context: net.context, id: "w")) { spec, _ in
            calls.bump(spec.id)
            return try Harness.compute(spec)
        }
        defer { worker.stop() }
        let outcome = try coordinator.runPhase("gen", tasks: tasks, journal: journal)
        #expect(outcome.resumed == 3)
        #expect(calls.total == 1)
        #expect(outcome.results.mapValues(\.checksum) == Harness.expected(tasks))
    }

    @Test func configurationMismatchRefusesToResume() throws {
        let dir = Harness.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try Journal.open(directory: dir, configurationHash: "aaa", checkpointHash: "ck1", logger: Harness.logger)
        #expect(throws: ClusterError.configurationMismatch(field: "configuration hash", journal: "aaa", requested: "bbb")) {
            try Journal.open(directory: dir, configurationHash: "bbb", checkpointHash: "ck1", logger: Harness.logger)
        }
        #expect(throws: ClusterError.configurationMismatch(field: "checkpoint hash", journal: "ck1", requested: "ck2")) {
            try Journal.open(directory: dir, configurationHash: "aaa", checkpointHash: "ck2", logger: Harness.logger)
        }
        #expect(try Journal.open(directory: dir, configurationHash: "aaa", checkpointHash: "ck1", logger: Harness.logger).completedTasks == 0)
    }

    @Test func tornJournalLineIsIgnored() throws {
        let dir = Harness.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = TaskResult(taskId: "t", phase: "p", attempt: 1, metadata: ["k": 1], frames: [Frame([1, 2, 3])], workerId: "w")
        do {
            let j = try Journal.open(directory: dir, configurationHash: "c", logger: Harness.logger)
            try j.write(.completed(r))
        }
        let handle = try FileHandle(forWritingTo: dir.appendingPathComponent("journal.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"event":"completed","pha"#.utf8))
        try handle.close()
        let j = try Journal.open(directory: dir, configurationHash: "c", logger: Harness.logger)
        #expect(j.replayedRecords == 1)
        let back = j.completedResult(phase: "p", taskId: "t")
        #expect(back?.checksum == r.checksum && back?.metadata == r.metadata && back?.frames == r.frames)
    }
}
