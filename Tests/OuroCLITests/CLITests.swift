import Foundation
import Testing
import OuroCheckpoint
import OuroTestSupport

/// What the CLI tests need: the built binary, the fixtures (vim-micro) and Fashion-MNIST (the
/// default dataset). Without them the tests are skipped with the reason; under CI=true they run
/// and fail in `require()`, as the image-data CLI tests do.
enum CLIPrerequisites {
    static var ready: Bool { CLI.available && CLITests.micro != nil && TestEnvironment.fashionMNISTAvailable }
    static var enabled: Bool { ready || TestEnvironment.isCI }

    /// Why the CLI tests are skipped: every missing prerequisite.
    static var missingReason: String {
        var missing: [String] = []
        if !CLI.available { missing.append(CLI.missingReason) }
        if CLITests.micro == nil { missing.append(Fixtures.missingReason) }
        if !TestEnvironment.fashionMNISTAvailable { missing.append(TestEnvironment.fashionMNISTMissingReason) }
        return missing.joined(separator: "; ")
    }

    /// The binary and the vim-micro model; a failed requirement for each missing prerequisite.
    @discardableResult
    static func require() throws -> (bin: String, micro: String) {
        let bin = try #require(CLI.binary, "\(CLI.missingReason)")
        let micro = try #require(CLITests.micro, "\(Fixtures.missingReason)")
        try #require(TestEnvironment.fashionMNISTAvailable, "\(TestEnvironment.fashionMNISTMissingReason)")
        return (bin, micro)
    }
}

/// End-to-end tests of the `ouromamba` binary: JSON results, exit codes, error messages.
@Suite(.serialized, .enabled(if: CLIPrerequisites.enabled, "\(CLIPrerequisites.missingReason)"))
struct CLITests {
    static let micro = Fixtures.path("vim-micro.safetensors")
    static let noScript = "no /usr/bin/script (util-linux) to run the command on a pseudo-terminal"

    func tmp(_ name: String) -> String {
        let d = NSTemporaryDirectory() + "ouro-cli-\(name)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func json(_ r: CLI.Result, _ cmd: String) throws -> [String: Any] {
        #expect(r.status == 0, "\(cmd) failed: \(r.stderr.suffix(400))")
        let line = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return try #require(obj, "\(cmd): stdout is not one JSON object: \(r.stdout.suffix(300))")
    }

    @Test func jsonResultsParse() throws {
        let (_, micro) = try CLIPrerequisites.require()
        let dir = tmp("json")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let eval = try json(try CLI.run(["eval", "--model", micro, "--limit", "100", "--json"]), "eval")
        #expect((eval["samples"] as? Int) == 100)
        #expect(((eval["top1"] as? Double) ?? -1) >= 0)

        var w = SafeTensorsWriter()
        try w.add("input", shape: [2, 1, 28, 28], floats: [Float](repeating: 0.5, count: 2 * 784))
        try w.write(to: dir + "/x.safetensors")
        let infer = try json(try CLI.run(["infer", "--model", micro, "--input", dir + "/x.safetensors", "--output", dir + "/y.safetensors", "--json"]), "infer")
        #expect((infer["images"] as? Int) == 2)
        let y = try SafeTensorsFile.read(path: dir + "/y.safetensors")
        #expect(y.shape(of: "logits") == [2, 10])

        let gen = try json(try CLI.run(["generate", "--model", micro, "--count", "8", "--iterations", "1", "--out", dir + "/gen", "--json"]), "generate")
        #expect((gen["samples"] as? Int) == 8)
        #expect(FileManager.default.fileExists(atPath: dir + "/gen/samples.safetensors"))

        let quant = try CLI.run(["quantize", "--model", micro, "--calib", dir + "/gen", "--setting", "w4a4", "--out", dir + "/q.safetensors", "--json"])
        _ = try json(quant, "quantize")
        let qe = try json(try CLI.run(["eval", "--model", micro, "--quantized", dir + "/q.safetensors", "--limit", "50", "--json"]), "eval --quantized")
        #expect(qe["agreement"] is Double && qe["logit_cosine"] is Double && qe["top1"] is Double)

        let cmp = try json(try CLI.run(["compare", "--model", micro, "--calib-sources", "noise:8", "--methods", "ouromamba",
                                        "--settings", "w4a4", "--limit", "30", "--out", dir + "/cmp", "--json"]), "compare")
        #expect((cmp["runs"] as? [Any])?.count == 1)

        let insp = try json(try CLI.run(["inspect", "model", "--model", micro, "--json"]), "inspect model")
        #expect((insp["parameters"] as? Int) == 23_850)
        let bf = try json(try CLI.run(["bench", "forward", "--model", micro, "--batch", "1", "--repeats", "1", "--json"]), "bench forward")
        #expect((bf["results"] as? [Any])?.count == 1)
        let bg = try json(try CLI.run(["bench", "gen", "--model", micro, "--iterations", "1", "--json"]), "bench gen")
        #expect((bg["results"] as? [Any])?.count == 1)
        let tr = try json(try CLI.run(["train", "--out", dir + "/m.safetensors", "--embed-dim", "16", "--depth", "1", "--epochs", "1",
                                       "--limit", "128", "--json"]), "train")
        #expect(tr["top1"] is Double)
        #expect(FileManager.default.fileExists(atPath: dir + "/m.config.json"))
    }

    @Test func exitCodesAndMessages() throws {
        let (_, micro) = try CLIPrerequisites.require()
        let dir = tmp("errors")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Usage errors exit 2.
        let usage = try CLI.run(["eval", "--limit", "0"])
        #expect(usage.status == 2, "usage error: \(usage.status) \(usage.stderr)")
        let unknown = try CLI.run(["frobnicate"])
        #expect(unknown.status == 2)
        // A missing model names the file.
        let missing = try CLI.run(["eval", "--model", dir + "/nope.pth"])
        #expect(missing.status == 1 && missing.stderr.contains("nope.pth"))
        // A truncated checkpoint is rejected with its name, not a crash.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try #require(Fixtures.path("vim-micro.pth"))))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: dir + "/trunc.pth"))
        let trunc = try CLI.run(["eval", "--model", dir + "/trunc.pth", "--limit", "10"])
        #expect(trunc.status == 1 && trunc.stderr.contains("trunc.pth"), "\(trunc.stderr)")
        // Wrong channel count in the input.
        var w = SafeTensorsWriter()
        try w.add("input", shape: [1, 3, 28, 28], floats: [Float](repeating: 0, count: 3 * 784))
        try w.write(to: dir + "/x3.safetensors")
        let ch = try CLI.run(["infer", "--model", micro, "--input", dir + "/x3.safetensors", "--output", dir + "/o.safetensors"])
        #expect(ch.status == 1 && ch.stderr.contains("channel"), "\(ch.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/o.safetensors"))
        // A dataset file with a bad IDX magic.
        let data = dir + "/fm"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let gz = try CLI.shell(["bash", "-c", "printf '\\x00\\x00\\x08\\x02\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x1c\\x00\\x00\\x00\\x1c' | gzip > \(data)/t10k-images-idx3-ubyte.gz; cp /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz \(data)/"])
        #expect(gz.status == 0)
        let magic = try CLI.run(["eval", "--model", micro, "--data", "fashion-mnist:" + data])
        #expect(magic.status == 1 && magic.stderr.contains("magic"), "\(magic.stderr)")
    }

    /// Long commands draw a bar with rate and ETA on a TTY and print plain lines otherwise.
    @Test(.enabled(if: TestEnvironment.scriptAvailable, "\(CLITests.noScript)"))
    func progressOnTTYAndPlainLogs() throws {
        let (bin, micro) = try CLIPrerequisites.require()
        let dir = tmp("tty")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cmd = "\(bin) generate --model \(micro) --count 8 --iterations 30 --out \(dir)/g"
        let tty = try CLI.shell(["/usr/bin/script", "-qec", cmd, "/dev/null"])
        #expect(tty.status == 0)
        #expect(tty.stdout.contains("\r") && tty.stdout.contains("ETA") && tty.stdout.contains("it/s"), "\(tty.stdout.suffix(300))")
        let plain = try CLI.run(["generate", "--model", micro, "--count", "8", "--iterations", "30", "--out", dir + "/g2"])
        // In this process too, Gen runs as the pipeline's phase: the same shard line as on workers.
        #expect(plain.status == 0 && !plain.stderr.contains("\r") && plain.stderr.contains("[gen] shards"), "\(plain.stderr.suffix(300))")
        // The other long commands share the bar: each one redraws it with a rate and an ETA on a TTY.
        let others = [
            "eval --model \(micro) --limit 3000",
            "quantize --model \(micro) --calib \(dir)/g --out \(dir)/q/q.safetensors --eval-limit 1000",
            "eval --model \(micro) --quantized \(dir)/q/q.safetensors --limit 1000",
            "compare --model \(micro) --calib-sources noise:8 --methods ouromamba --settings w4a4 --limit 500 --out \(dir)/cmp",
            "train --out \(dir)/t.safetensors --embed-dim 16 --depth 1 --epochs 1 --limit 256",
        ]
        for cmd in others {
            let r = try CLI.shell(["/usr/bin/script", "-qec", "\(bin) \(cmd)", "/dev/null"])
            #expect(r.status == 0, "\(cmd): \(r.stdout.suffix(300))")
            #expect(r.stdout.contains("\r") && r.stdout.contains("ETA"), "no progress bar on a TTY for `\(cmd)`")
        }
    }

    /// A coordinator and `workers` workers on a private ipc endpoint, run together: the small
    /// quantize job of the cluster tests (16 synthetic samples, 2 shards per phase). `tty`
    /// runs each under `script` (a pseudo-terminal; its output is then on stdout).
    /// Heartbeats every 0.5 s (a peer is lost after 2.5 s of silence): the suite runs tests in
    /// parallel on 2 cores, and with 0.2 s a starved worker was declared lost and missed the
    /// end of the job.
    func cluster(_ dir: String, workers: Int, coordinatorArgs: [String] = [], workerArgs: [String] = [],
                 tty: Bool = false) throws -> [CLI.Result] {
        let bin = try #require(CLI.binary), micro = try #require(Self.micro)
        let ep = "ipc://\(dir)/c.ipc"
        let coordinator = [bin, "coordinator", "--bind", ep, "--model", micro, "--calib", "syn:ouromamba:16", "--gen-iterations", "30",
                           "--out", dir + "/q/q.safetensors", "--heartbeat", "0.5", "--min-workers", String(workers),
                           "--wait-workers", "30"] + coordinatorArgs
        let ws = (0..<workers).map { i in
            [bin, "worker", "--connect", ep, "--model", micro, "--threads", "1", "--id", "w\(i)", "--heartbeat", "0.5",
             "--reconnect-max", "0.4", "--max-reconnects", "20"] + workerArgs
        }
        let argvs = ([coordinator] + ws).map { argv in
            tty ? ["/usr/bin/script", "-qec", argv.map { "'\($0)'" }.joined(separator: " "), "/dev/null"] : argv
        }
        return try CLI.parallel(argvs, environment: ["OPENBLAS_NUM_THREADS": "1"], timeout: 60)
    }

    /// `coordinator` draws a bar with shard rate and ETA on a terminal and `worker` a live status
    /// (tasks done, rate); without a terminal both print plain lines, a worker one per finished task.
    @Test(.enabled(if: TestEnvironment.scriptAvailable, "\(CLITests.noScript)"))
    func clusterProgressOnTTYAndPlainLogs() throws {
        try CLIPrerequisites.require()
        let dir = tmp("cluster-tty")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tty = try cluster(dir, workers: 1, tty: true)
        let (c, w) = (tty[0].stdout, tty[1].stdout)
        #expect(tty.allSatisfy { $0.status == 0 }, "coordinator: \(c.suffix(600))\nworker: \(w.suffix(600))")
        #expect(c.contains("\r[gen] ") && c.contains("█") && c.contains("ETA") && c.contains("shards/s"), "no bar: \(c.suffix(600))")
        #expect(c.contains("\r[calib-pass2] ") && c.contains("job done in"))
        // The phase-complete log line starts on a line of its own, not glued to the bar.
        // (By scalars: `script` ends lines with "\r\n", a single Character.)
        let lines = c.unicodeScalars.split(separator: "\n").map { String(String.UnicodeScalarView($0)) }
        let glued = lines.filter { $0.contains("shards/s") && $0.contains("complete:") }
        #expect(glued.isEmpty && c.contains("phase gen complete:") && c.contains("per worker: w0 "), "\(glued)")
        #expect(w.contains("\rworker w0: ") && w.contains("tasks/s") && w.contains("running gen.b000"), "no live status: \(w.suffix(600))")
        #expect(w.contains("worker w0: 8 tasks done") && w.contains("job ended"), "\(w.suffix(600))")

        let plainDir = tmp("cluster-plain")
        defer { try? FileManager.default.removeItem(atPath: plainDir) }
        let plain = try cluster(plainDir, workers: 1)
        let (pc, pw) = (plain[0], plain[1])
        #expect(pc.status == 0 && pw.status == 0, "coordinator: \(pc.stderr.suffix(600))\nworker: \(pw.stderr.suffix(600))")
        #expect(!pc.stderr.contains("\r") && pc.stderr.contains("[gen] shards 2/2") && pc.stderr.contains("shards/s"), "\(pc.stderr.suffix(600))")
        #expect(!pw.stderr.contains("\r"))
        let taskLines = pw.stderr.split(separator: "\n").filter { $0.contains("worker w0: task ") && $0.contains(" done in ") }
        #expect(taskLines.count == 8, "one line per finished task: \(pw.stderr.suffix(800))")
        #expect(taskLines.last?.contains("8 tasks done") == true && taskLines.last?.contains("tasks/s") == true)
        #expect(pw.stdout.contains("worker w0: 8 tasks done") && pw.stdout.contains("job ended"))
    }

    /// `coordinator --json` and `worker --json` end with one JSON object each: the job's phases
    /// and per-worker figures, and the worker's own counts; a worker stopped by SIGTERM prints its
    /// object too.
    @Test func clusterJSONResultsParse() throws {
        let (bin, micro) = try CLIPrerequisites.require()
        let dir = tmp("cluster-json")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try cluster(dir, workers: 2, coordinatorArgs: ["--json"], workerArgs: ["--json"])
        let coord = try json(r[0], "coordinator --json")
        #expect(coord["kind"] as? String == "quantize" && coord["out"] as? String == dir + "/q/q.safetensors")
        let phases = try #require(coord["phases"] as? [[String: Any]])
        #expect(phases.map { $0["phase"] as? String } == ["gen", "calib-pass1", "calib-pass2", "weights"])
        for p in phases {
            let ws = try #require(p["workers"] as? [[String: Any]], "phase without workers: \(p)")
            #expect(ws.reduce(0) { $0 + ($1["tasks"] as? Int ?? 0) } == p["computed"] as? Int)
            #expect(ws.allSatisfy { ($0["busy_seconds"] as? Double ?? -1) >= 0 })
        }
        let totals = try #require(coord["workers"] as? [[String: Any]])
        #expect(totals.reduce(0) { $0 + ($1["tasks"] as? Int ?? 0) } == 8)
        var perWorker: [String: Int] = [:]
        for t in totals { perWorker[t["worker"] as? String ?? "?"] = t["tasks"] as? Int }
        for (i, w) in r.dropFirst().enumerated() {
            let o = try json(w, "worker --json")
            #expect(o["worker"] as? String == "w\(i)" && o["exit"] as? String == "job ended" && o["jobs"] as? Int == 1)
            #expect(o["tasks"] as? Int == perWorker["w\(i)"] ?? 0, "worker w\(i) counts differ from the coordinator's: \(o)")
            #expect(o["failed"] as? Int == 0 && o["tasks_per_second"] is Double && o["busy_seconds"] is Double)
            // A loaded machine may make a worker warn (a late coordinator); info lines never appear.
            let infoLines = w.stderr.split(separator: "\n").filter { !$0.contains(" warning ") && !$0.contains(" error ") }
            #expect(infoLines.isEmpty, "--json logs warnings only: \(w.stderr.suffix(300))")
        }
        // SIGTERM: the worker says goodbye and prints its summary (here without ever getting a task).
        let script = """
        '\(bin)' worker --connect ipc://\(dir)/nobody.ipc --model '\(micro)' --id idle --json --log-level info 2> \(dir)/w.err &
        pid=$!
        for i in $(seq 100); do grep -q 'connecting to' \(dir)/w.err && break; sleep 0.1; done
        kill -TERM $pid; wait $pid
        """
        let stopped = try json(try CLI.shell(["/bin/bash", "-c", script], timeout: 30), "worker --json on SIGTERM")
        #expect(stopped["exit"] as? String == "stopped" && stopped["tasks"] as? Int == 0)
    }

    /// `--device gpu` never computes silently on the CPU: without a usable CUDA device it fails
    /// naming what is missing, and on a GPU machine the commands without a GPU path refuse it.
    /// `--device auto` runs on the CPU and says why.
    @Test func deviceFlag() throws {
        let (_, micro) = try CLIPrerequisites.require()
        let dir = tmp("device")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let strict: [[String]] = [
            ["eval", "--model", micro, "--limit", "10", "--device", "gpu"],
            ["generate", "--model", micro, "--count", "8", "--iterations", "1", "--out", dir + "/g", "--device", "gpu"],
            ["quantize", "--model", micro, "--calib", "noise:8", "--out", dir + "/q.safetensors", "--no-report", "--device", "gpu"],
            ["worker", "--connect", "ipc://\(dir)/none.ipc", "--model", micro, "--device", "gpu"],
            ["bench", "forward", "--model", micro, "--batch", "1", "--repeats", "1", "--device", "gpu"],
        ]
        for args in strict {
            let r = try CLI.run(args)
            #expect(r.status == 1, "\(args.prefix(2)) --device gpu: exit \(r.status)")
            #expect(r.stderr.contains("--device gpu:"), "\(args.prefix(2)): \(r.stderr.suffix(300))")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/q.safetensors") && !FileManager.default.fileExists(atPath: dir + "/g"))
        let auto = try CLI.run(["eval", "--model", micro, "--limit", "10", "--device", "auto", "--json"])
        #expect(auto.status == 0)
        #expect(auto.stderr.contains("--device auto:") && auto.stderr.contains("running on the CPU"), "\(auto.stderr)")
        _ = try json(auto, "eval --device auto")
        let bad = try CLI.run(["eval", "--model", micro, "--device", "tpu"])
        #expect(bad.status == 2, "usage error: \(bad.status)")
    }

}
