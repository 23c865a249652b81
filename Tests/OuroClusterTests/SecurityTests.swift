import Foundation
import Testing
@testable import OuroCluster

@Suite(.serialized) struct SecurityTests {
    @Test func keyPairsGenerateSaveAndLoad() throws {
        let dir = Harness.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let k = try KeyPair.generate()
        #expect(KeyPair.isValidKey(k.publicKey) && KeyPair.isValidKey(k.secretKey))
        #expect(try KeyPair.publicKey(forSecret: k.secretKey) == k.publicKey)
        let file = dir.appendingPathComponent("worker.key")
        try k.save(to: file)
        #expect(try KeyPair.load(from: file) == k)
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let other = try KeyPair.generate()
        let allow = dir.appendingPathComponent("allowed")
        try Data("# workers\n\(k.publicKey)\npublic-key = \(other.publicKey)\n".utf8).write(to: allow)
        #expect(try KeyPair.loadPublicKeys(from: allow) == [k.publicKey, other.publicKey])
        // Z85 keys may contain "#" and "=": a bare key starting with "#" is still a key.
        var hashKey = try KeyPair.generate()
        for _ in 0..<5000 where !hashKey.publicKey.hasPrefix("#") { hashKey = try KeyPair.generate() }
        try Data("# comment\n\(hashKey.publicKey)\n".utf8).write(to: allow)
        #expect(try KeyPair.loadPublicKeys(from: allow) == [hashKey.publicKey])
        try Data("not-a-key\n".utf8).write(to: allow)
        #expect(throws: SecurityError.self) { try KeyPair.loadPublicKeys(from: allow) }
        #expect(throws: SecurityError.self) { try KeyPair(publicKey: other.publicKey, secretKey: k.secretKey) }
    }

    @Test func nonLoopbackEndpointRequiresCurve() {
        #expect(throws: SecurityError.insecureEndpoint("tcp://0.0.0.0:*")) {
            try Coordinator(config: Harness.coordinatorConfig("tcp://0.0.0.0:*"), logger: Harness.logger)
        }
    }

    @Test func curveAdmitsAllowedWorkersAndRejectsOthers() throws {
        let server = try KeyPair.generate(), good = try KeyPair.generate(), bad = try KeyPair.generate()
        var config = Harness.coordinatorConfig(Harness.tcpEndpoint)
        config.security = .curve(server: server, allowedWorkers: [good.publicKey])
        let coordinator = try Coordinator(config: config, logger: Harness.logger)
        defer { coordinator.shutdown() }

        let intruder = try RunningWorker(Harness.workerConfig(coordinator.endpoint, id: "intruder",
                                                              security: .curve(client: bad, serverPublicKey: server.publicKey),
                                                              maxReconnects: 1))
        #expect(Harness.eventually { coordinator.snapshot().authFailures >= 1 })
        #expect(intruder.exitReason(timeout: 10) == .gaveUp(reconnects: 1))

        let worker = try RunningWorker(Harness.workerConfig(coordinator.endpoint, id: "trusted",
                                                            security: .curve(client: good, serverPublicKey: server.publicKey)))
        defer { worker.stop() }
        let tasks = Harness.tasks(5)
        let outcome = try coordinator.runPhase("gen", tasks: tasks)
        #expect(outcome.results.count == 5)
        #expect(Set(outcome.results.values.map(\.workerId)) == ["trusted"])
        #expect(outcome.results["t02"]?.checksum == Harness.expected(tasks)["t02"])
        #expect(!coordinator.snapshot().workers.contains { $0.workerId == "intruder" })
    }
}
