import OuroSupport
import Foundation
import Logging

/// N worker processes on this machine (`--workers N`): started with their own arguments and
/// environment, watched, and stopped (SIGTERM, then SIGKILL after a grace period) on exit.
public final class LocalWorkerPool: Sendable {
    private let executable: String
    private let argumentsFor: @Sendable (Int) -> [String]
    private let environment: [String: String]
    private let logger: Logger
    private let processes = Locked<[Process]>([])

    /// Prepares `count` workers; `arguments(i)` gives worker i's command line (without the
    /// executable), `environment` is added to this process's environment.
    public init(executable: String, count: Int, environment: [String: String] = [:], logger: Logger,
                arguments: @escaping @Sendable (Int) -> [String]) {
        self.executable = executable
        self.argumentsFor = arguments
        self.environment = environment
        self.logger = logger
        self.count = count
    }

    /// Number of workers.
    public let count: Int

    /// The path of the running executable (to start workers of the same build).
    public static func currentExecutable() -> String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    /// Starts every worker; stdout goes to /dev/null, stderr is shared with this process.
    public func start() throws {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        for i in 0..<count {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = argumentsFor(i)
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardInput = FileHandle.nullDevice
            do { try p.run() } catch {
                stop()
                throw ClusterError.localWorker("cannot start local worker \(i) (\(executable)): \(error)")
            }
            processes.withLock { $0.append(p) }
            logger.info("started local worker \(i) (pid \(p.processIdentifier))")
        }
    }

    /// Process ids of the started workers.
    public var pids: [Int32] { processes.withLock { $0.map(\.processIdentifier) } }

    /// Workers still running.
    public var running: Int { processes.withLock { $0.filter(\.isRunning).count } }

    private let stopping = Locked(false)

    /// Records that the pool is being shut down on purpose (workers leaving is expected).
    public func markStopping() { stopping.withLock { $0 = true } }

    /// True after `markStopping()` or `stop()`.
    public var isStopping: Bool { stopping.current }

    /// Stops every worker still running: SIGTERM, then SIGKILL after `grace` seconds. Idempotent.
    public func stop(grace: Double = 5) {
        markStopping()
        let live = processes.withLock { $0.filter(\.isRunning) }
        for p in live { kill(p.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline, live.contains(where: \.isRunning) { Thread.sleep(forTimeInterval: 0.02) }
        for p in live where p.isRunning {
            logger.warning("local worker pid \(p.processIdentifier) ignored SIGTERM; killing it")
            kill(p.processIdentifier, SIGKILL)
        }
        for p in live { p.waitUntilExit() }
    }
}
