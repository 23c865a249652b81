import OuroSupport
import Foundation

/// Runs the built `ouromamba` binary as a subprocess (release build next to the test bundle).
public enum CLI {
    /// Path of the executable, or nil when it was not built.
    public static let binary: String? = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let cand = dir.appendingPathComponent("ouromamba").path
            if FileManager.default.isExecutableFile(atPath: cand) { return cand }
            dir = dir.deletingLastPathComponent()
        }
        let fallback = Fixtures.packageRoot.appendingPathComponent(".build/release/ouromamba").path
        return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
    }()

    /// True when the executable was built.
    public static var available: Bool { binary != nil }

    /// Why tests of the binary are skipped.
    public static var missingReason: String { CLIMissing().description }

    public struct Result {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `ouromamba args…` with a timeout; the working directory is the package root.
    public static func run(_ args: [String], environment: [String: String] = [:], timeout: TimeInterval = 300,
                           directory: URL? = nil) throws -> Result {
        guard let binary else { throw CLIMissing() }
        return try shell([binary] + args, environment: environment, timeout: timeout, directory: directory)
    }

    /// Runs an arbitrary command line (argv) with a timeout.
    public static func shell(_ argv: [String], environment: [String: String] = [:], timeout: TimeInterval = 300,
                             directory: URL? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env")
        p.arguments = argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.currentDirectoryURL = directory ?? Fixtures.packageRoot
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        // Drain both pipes concurrently so a chatty child never blocks.
        let outBox = Locked(Data()), errBox = Locked(Data())
        let group = DispatchGroup()
        group.enter(); DispatchQueue.global().async { let d = out.fileHandleForReading.readDataToEndOfFile(); outBox.withLock { $0 = d }; group.leave() }
        group.enter(); DispatchQueue.global().async { let d = err.fileHandleForReading.readDataToEndOfFile(); errBox.withLock { $0 = d }; group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate(); usleep(200_000); if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        p.waitUntilExit()
        group.wait()
        return Result(status: p.terminationStatus, stdout: String(decoding: outBox.current, as: UTF8.self),
                      stderr: String(decoding: errBox.current, as: UTF8.self))
    }

    /// Runs several command lines (argv each) at the same time, for example a coordinator and its
    /// workers, and returns their results in the same order once all have exited.
    public static func parallel(_ argvs: [[String]], environment: [String: String] = [:], timeout: TimeInterval = 120,
                                directory: URL? = nil) throws -> [Result] {
        let boxes = argvs.map { _ in Locked<Swift.Result<Result, Error>?>(nil) }
        let group = DispatchGroup()
        for (argv, box) in zip(argvs, boxes) {
            group.enter()
            // A thread each: these block for the whole run and must not wait for a pool slot.
            Thread {
                let r = Swift.Result { try shell(argv, environment: environment, timeout: timeout, directory: directory) }
                box.withLock { $0 = r }
                group.leave()
            }.start()
        }
        group.wait()
        return try boxes.map { try $0.current!.get() }
    }

    public struct CLIMissing: Error, CustomStringConvertible {
        public var description: String { "the ouromamba binary was not built (run `swift build -c release`)" }
    }
}
