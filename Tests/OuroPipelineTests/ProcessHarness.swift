import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import OuroTestSupport
@testable import OuroCluster
import OuroPipeline

/// Process-level tests: real `ouromamba` coordinator and worker processes on ipc:// or
/// 127.0.0.1. One serialized suite (extended in several files) so that tight timings do not
/// compete with each other on 2 cores. Every child is killed in `defer`; every wait is bounded.
/// Skipped, with the reason, without the binary or the fixtures; under CI=true it runs and fails.
@Suite(.serialized, .enabled(if: Binary.enabled, "\(Binary.missingReason)")) struct ProcessJobTests {}

/// The `ouromamba` binary next to the test bundle (build it with `swift build -c release`).
enum Binary {
    static let path: String? = {
        if let p = ProcessInfo.processInfo.environment["OUROMAMBA_BIN"] { return p }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("ouromamba").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }()

    static let binaryMissing = "ouromamba binary not found next to the tests: run `swift build -c release -Xswiftc -enable-testing` first"

    /// The condition of the process tests: the binary and the fixtures are here, or CI requires
    /// them (the tests then run and fail in `require()`).
    static var enabled: Bool { (path != nil && Fixtures.available) || TestEnvironment.isCI }

    /// Why the process tests are skipped.
    static var missingReason: String {
        path == nil ? binaryMissing + (Fixtures.available ? "" : "; " + Fixtures.missingReason) : Fixtures.missingReason
    }

    /// The binary and the vim-micro fixture; a failed requirement when either is missing.
    static func require() throws -> (bin: String, model: String) {
        let bin = try #require(path, "\(binaryMissing)")
        let model = try #require(Fixtures.path("vim-micro.safetensors"), "fixture vim-micro.safetensors not found: \(Fixtures.missingReason)")
        return (bin, model)
    }
}

/// A child process with stdout/stderr in files; killed (SIGKILL) by `kill()` or on deinit.
final class Child: Sendable {
    let process = Process()
    let name: String
    let stdoutURL: URL
    let stderrURL: URL

    init(_ name: String, _ bin: String, _ args: [String], in dir: URL, env: [String: String] = [:]) throws {
        self.name = name
        stdoutURL = dir.appendingPathComponent("\(name).out")
        stderrURL = dir.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: bin)
        process.arguments = args
        process.currentDirectoryURL = dir
        var e = ProcessInfo.processInfo.environment
        e["OPENBLAS_NUM_THREADS"] = "1"
        for (k, v) in env { e[k] = v }
        process.environment = e
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit { kill() }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }

    /// SIGKILL if still running, then reap.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        if process.processIdentifier > 0 { process.waitUntilExit() }
    }

    /// The exit status, or nil (and the child killed) after `timeout` seconds.
    func wait(timeout: Double) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            kill()
            return nil
        }
        return process.terminationStatus
    }
}

/// Helpers shared by the process tests.
enum Jobs {
    static func tempDirectory(_ tag: String) -> URL {
        let u = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ouro-\(tag)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    static func ipc(_ dir: URL) -> String { "ipc://\(dir.path)/c.ipc" }

    /// The quantize job of the tests: 16 synthetic samples × 2 Gen iterations, w4a4 ouromamba.
    static let quantizeArgs = ["--calib", "syn:ouromamba:16", "--gen-iterations", "2", "--setting", "w4a4", "--method", "ouromamba"]

    /// Worker arguments with fast reconnects and heartbeats every 0.5 s: a peer is lost after
    /// 2.5 s of silence (with 0.2 s, a worker starved on a loaded 2-core machine could be dropped
    /// near the end of a job, miss the coordinator's goodbye and exit 1).
    static func workerArgs(_ endpoint: String, model: String, id: String, extra: [String] = []) -> [String] {
        ["worker", "--connect", endpoint, "--model", model, "--threads", "1", "--id", id, "--heartbeat", "0.5",
         "--reconnect-max", "0.4", "--max-reconnects", "8", "--log-level", "info"] + extra
    }

    /// Bytes of a file (empty when missing).
    static func bytes(_ url: URL) -> Data { (try? Data(contentsOf: url)) ?? Data() }

    /// The in-process reference (`--threads 1`): artifact and samples bytes, computed once per test run.
    static let reference: (artifact: Data, samples: Data)? = {
        guard let bin = Binary.path, let model = Fixtures.path("vim-micro.safetensors") else { return nil }
        let dir = tempDirectory("ref")
        defer { try? FileManager.default.removeItem(at: dir) }
        guard let c = try? Child("ref", bin, ["quantize", "--model", model] + quantizeArgs + ["--out", "ip/q.safetensors", "--threads", "1", "--quiet"], in: dir),
              c.wait(timeout: 60) == 0 else { return nil }
        return (bytes(dir.appendingPathComponent("ip/q.safetensors")), bytes(dir.appendingPathComponent("ip/samples/samples.safetensors")))
    }()

    /// Polls the coordinator's status file until `condition` holds; nil after `timeout`.
    static func waitStatus(_ url: URL, timeout: Double, _ condition: (ClusterProgress) -> Bool) -> ClusterProgress? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let d = try? Data(contentsOf: url), let p = try? JSONDecoder().decode(ClusterProgress.self, from: d), condition(p) {
                return p
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    /// Journal records (event, phase, task) of a job directory.
    static func journal(_ dir: URL) -> [(event: String, phase: String, task: String)] {
        let text = (try? String(contentsOf: dir.appendingPathComponent("journal.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let e = o["event"] as? String, let p = o["phase"] as? String, let t = o["task"] as? String else { return nil }
            return (e, p, t)
        }
    }

    /// summary.json of a job directory.
    static func summary(_ dir: URL) -> [PhaseReport] {
        struct S: Decodable { var phases: [PhaseReport] }
        guard let d = try? Data(contentsOf: dir.appendingPathComponent("summary.json")) else { return [] }
        return (try? JSONDecoder().decode(S.self, from: d).phases) ?? []
    }
}
