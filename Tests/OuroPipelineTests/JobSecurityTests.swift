import Foundation
import Testing
@testable import OuroCluster
import OuroPipeline

extension ProcessJobTests {
    /// Garbage, an unknown command, a wrong protocol version and an oversized metadata frame are
    /// each answered with DISCONNECT and counted; a worker with a different model file is refused
    /// at registration and exits 1; the coordinator survives and the job completes.
    @Test func badMessagesAndWrongModelAreRejected() throws {
        let (bin, model) = try Binary.require()
        let dir = Jobs.tempDirectory("bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ep = Jobs.ipc(dir)
        let coord = try Child("coord", bin, ["coordinator", "--bind", ep, "--model", model, "--calib", "noise:8",
                                             "--out", "q.safetensors", "--job-dir", "job", "--heartbeat", "0.5"], in: dir)
        defer { coord.kill() }
        #expect(PipelineHarness.eventually(timeout: 10) { coord.stderr.contains("waiting for") }, "coordinator did not start: \(coord.stderr)")
        let context = try ZMQContext()
        let big = Frame("{\"pad\":\"" + String(repeating: "x", count: 2 << 20) + "\"}")
        let bad: [(String, [Frame])] = [
            ("garbage", [Frame("hello"), Frame("world")]),
            ("unknown command", [Frame("OMQ/1"), Frame("LAUNCH"), Frame("{\"frame_sizes\":[]}")]),
            ("wrong version", [Frame("OMQ/9"), Frame("READY"), Frame("{\"frame_sizes\":[]}")]),
            ("oversized metadata", [Frame("OMQ/1"), Frame("READY"), big]),
        ]
        for (what, frames) in bad {
            let s = try ZMQSocket(context: context, kind: .dealer)
            defer { s.close() }
            try s.setReceiveTimeout(5000)
            try s.connect(ep)
            try s.send(frames)
            let reply = try? s.receive(limits: ReceiveLimits(maxFrames: 8, maxBytes: 1 << 16))
            #expect(reply?.count ?? 0 >= 3 && reply?[1].string == "DISCONNECT", "\(what): expected DISCONNECT, got \(String(describing: reply))")
        }
        let pth = model.replacingOccurrences(of: ".safetensors", with: ".pth")
        let wrong = try Child("wrong", bin, Jobs.workerArgs(ep, model: pth, id: "wrong-model"), in: dir)
        defer { wrong.kill() }
        #expect(wrong.wait(timeout: 20) == 1)
        #expect(wrong.stderr.contains("refused this worker: model mismatch"), "\(wrong.stderr.suffix(1000))")
        #expect(coord.isRunning)
        let good = try Child("good", bin, Jobs.workerArgs(ep, model: model, id: "good"), in: dir)
        defer { good.kill() }
        #expect(coord.wait(timeout: 60) == 0, "job failed: \(coord.stderr.suffix(2000))")
        #expect(good.wait(timeout: 10) == 0)
        let status = Jobs.waitStatus(dir.appendingPathComponent("job/status.json"), timeout: 1) { _ in true }
        #expect(status?.rejectedMessages ?? 0 >= 5, "status: \(String(describing: status))")
        #expect(coord.stderr.contains("rejected message from"))
        #expect(coord.stderr.contains("does not have the job's model"))
    }

    /// CURVE forced on a loopback endpoint: a plain worker and a worker whose key is not on the
    /// allowlist never get in (they give up, exit 1; the ZAP handler logs and counts the key);
    /// the allowlisted worker runs the job. Non-loopback endpoints without keys are refused.
    @Test func curveRejectsUnauthenticatedPeers() throws {
        let (bin, model) = try Binary.require()
        let dir = Jobs.tempDirectory("curve")
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["coordinator", "good", "intruder"] {
            let k = try Child("keygen-\(name)", bin, ["keygen", "--out", "keys", "--name", name], in: dir)
            #expect(k.wait(timeout: 10) == 0)
        }
        let coord = try Child("coord", bin, ["coordinator", "--bind", "tcp://127.0.0.1:*", "--model", model, "--calib", "noise:8",
                                             "--out", "q.safetensors", "--job-dir", "job", "--heartbeat", "0.5",
                                             "--key", "keys/coordinator.key", "--allow", "keys/good.pub"], in: dir)
        defer { coord.kill() }
        var endpoint: String?
        _ = PipelineHarness.eventually(timeout: 10) {
            let log = coord.stderr
            guard let r = log.range(of: #"coordinator on tcp://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) else { return false }
            endpoint = String(log[r].dropFirst("coordinator on ".count))
            return true
        }
        guard let ep = endpoint else {
            Issue.record("no endpoint in the coordinator log: \(coord.stderr)")
            return
        }
        let giveUp = ["--max-reconnects", "1"]
        let plain = try Child("plain", bin, Jobs.workerArgs(ep, model: model, id: "plain", extra: giveUp), in: dir)
        let intruder = try Child("intruder", bin, Jobs.workerArgs(ep, model: model, id: "intruder",
                                                                  extra: giveUp + ["--key", "keys/intruder.key", "--server-key", "keys/coordinator.pub"]), in: dir)
        defer { plain.kill(); intruder.kill() }
        #expect(plain.wait(timeout: 20) == 1)
        #expect(intruder.wait(timeout: 20) == 1)
        #expect(intruder.stderr.contains("no coordinator at"), "\(intruder.stderr.suffix(1000))")
        #expect(coord.stderr.contains("key not in the allowlist"))
        let good = try Child("good", bin, Jobs.workerArgs(ep, model: model, id: "good",
                                                          extra: ["--key", "keys/good.key", "--server-key", "keys/coordinator.pub"]), in: dir)
        defer { good.kill() }
        #expect(coord.wait(timeout: 60) == 0, "job failed: \(coord.stderr.suffix(2000))")
        let status = Jobs.waitStatus(dir.appendingPathComponent("job/status.json"), timeout: 1) { _ in true }
        #expect(status?.authFailures ?? 0 >= 1)
        #expect(status?.workers.map(\.workerId).allSatisfy { $0 == "good" } == true)

        let open = try Child("open", bin, ["coordinator", "--bind", "tcp://0.0.0.0:*", "--model", model, "--calib", "noise:8",
                                           "--out", "x.safetensors"], in: dir)
        #expect(open.wait(timeout: 20) == 1)
        #expect(open.stderr.contains("CURVE"))
        let remote = try Child("remote", bin, ["worker", "--connect", "tcp://192.0.2.1:5555", "--model", model], in: dir)
        #expect(remote.wait(timeout: 20) == 1)
        #expect(remote.stderr.contains("CURVE is required"))
        let gpu = try Child("gpu", bin, ["worker", "--connect", ep, "--model", model, "--device", "gpu"], in: dir)
        #expect(gpu.wait(timeout: 20) == 1)
        #expect(gpu.stderr.contains("--device gpu:"), "\(gpu.stderr)")
    }
}
