import ArgumentParser
import Foundation
import Logging
import OuroCluster
import OuroPipeline
import OuroQuant

/// `ouromamba worker`: a worker daemon that connects to a coordinator and computes its tasks.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a cluster worker: connect to a coordinator and compute Gen/calibration/weight tasks.",
        discussion: """
        The worker loads --model, advertises its sha256 in READY and refuses tasks for any other \
        model. Endpoints other than loopback/ipc require CURVE: --key (this worker's key pair from \
        `ouromamba keygen`) and --server-key (the coordinator's public key file).
        Exit status: 0 when the coordinator ends the job or on SIGINT/SIGTERM (after telling the \
        coordinator), 1 when it refuses the worker (model or backend mismatch, incompatible \
        protocol) or gives up reconnecting.
        Progress: a line per finished task (tasks done, rate) in logs, a redrawn status line on a \
        terminal; on exit a summary line on stdout (--json: one JSON object with tasks, failures, \
        busy seconds and rate, per phase too).

        Examples:
          OPENBLAS_NUM_THREADS=4 ouromamba worker --connect tcp://127.0.0.1:5555 \\
              --model M --threads 4
          ouromamba worker --connect tcp://head:5555 --model M --key w1.key \\
              --server-key coordinator.pub --keep-alive
        """)

    @Option(name: .long, help: "Coordinator endpoint (tcp://HOST:PORT or ipc://PATH).") var connect: String
    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "Worker id shown in progress (default HOST-PID).") var id: String?
    @Option(name: .long, help: "This worker's CURVE key pair file.") var key: String?
    @Option(name: .long, help: "The coordinator's public key file.") var serverKey: String?
    @Option(name: .long, help: "Heartbeat interval in seconds (use the coordinator's).") var heartbeat: Double = 1
    @Option(name: .long, help: "Give up after this many reconnections without a coordinator (default: never).") var maxReconnects: Int?
    @Option(name: .long, help: "Longest reconnection delay in seconds.") var reconnectMax: Double = 32
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error (default: info; warning with --quiet/--json, debug with --verbose).")
    var logLevel: String?
    @Flag(name: .long, help: "After a job ends, reconnect and wait for the next one.") var keepAlive = false
    @OptionGroup var common: CommonOptions
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if let logLevel, Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level: unknown level \(logLevel)") }
        guard heartbeat > 0 else { throw ValidationError("--heartbeat must be > 0") }
    }

    func run() throws {
        let resolved = try device.resolve(command: "worker", gpuImplemented: true, console: common.console())
        let threads = common.resolvedThreads()
        let output = StatusLine()
        let level = logLevel.flatMap(Logger.Level.init(rawValue:)) ?? (common.quiet || common.json ? .warning : (common.verbose ? .debug : .info))
        let logger = ClusterLog.logger("worker", level: level, output: output)
        let (m, path) = try model.load()
        let sha = try fileSHA256(path)
        let security = try workerSecurity()
        let name = id ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let started = Date()
        let status = WorkerStatus(name: name, mode: common.quiet || common.json ? .silent : (output.isTTY ? .terminal : .lines),
                                  output: output)
        let handler = status.wrap(JobWorker(model: m, modelSHA256: sha, threads: threads, gpu: try resolved.model(m),
                                            debug: .fromEnvironment()).handle)
        let info = WorkerInfo(workerId: String(name.prefix(128)), backend: resolved.backendName, engineVersion: OuroQuantVersion.string,
                              threads: threads, memoryBytes: Int(ProcessInfo.processInfo.physicalMemory), credit: 1, models: [sha])
        let config = WorkerConfig(endpoint: connect, info: info, heartbeatInterval: heartbeat, reconnectInitial: min(1, heartbeat),
                                  reconnectMax: reconnectMax, maxReconnects: maxReconnects, security: security)
        logger.info("worker \(name): model \(path) (sha256 \(sha)), \(threads) thread(s), \(resolved.backendName), connecting to \(connect)")
        func finish(_ exit: String) {
            let s = status.close()
            let seconds = Date().timeIntervalSince(started)
            if common.json {
                Console.printJSON(WorkerStatus.json(name: name, exit: exit, seconds: seconds, s))
            } else {
                var busy = String(format: "%.1f s busy", s.busySeconds)
                if !s.phases.isEmpty {
                    busy += " (" + s.phases.map { String(format: "%@ %d in %.1f s", $0.phase, $0.tasks, $0.busySeconds) }.joined(separator: ", ") + ")"
                }
                print("worker \(name): \(WorkerStatus.counts(s)), \(busy), \(String(format: "%.1f", seconds)) s up; \(exit)")
            }
        }
        while true {
            let worker = try clusterCLI { try Worker(config: config, logger: logger, handler: handler) }
            // SIGINT/SIGTERM: DISCONNECT, then the summary (stop() makes run() return .stopped).
            let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
                signal(sig, SIG_IGN)
                let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                s.setEventHandler { worker.stop() }
                s.resume()
                return s
            }
            defer { sources.forEach { $0.cancel() } }
            let exit: WorkerExit
            do { exit = try clusterCLI { try worker.run() } } catch {
                _ = status.close()
                throw error
            }
            switch exit {
            case .stopped, .killed:
                return finish("stopped")
            case .disconnected(let reason) where reason == "coordinator shutting down":
                logger.info("worker \(name): job ended")
                status.jobEnded()
                if !keepAlive { return finish("job ended") }
            case .disconnected(let reason):
                _ = status.close()
                throw CLIError("the coordinator refused this worker: \(reason)")
            case .gaveUp(let n):
                _ = status.close()
                throw CLIError("no coordinator at \(connect) after \(n) reconnection attempts")
            }
        }
    }

    private func workerSecurity() throws -> WorkerSecurity {
        switch (key, serverKey) {
        case (nil, nil):
            guard Endpoint.isLocal(connect) else {
                throw CLIError("\(connect) is not loopback/ipc: CURVE is required (--key and --server-key)")
            }
            return .none
        case (let k?, let s?):
            return try clusterCLI {
                let pair = try KeyPair.load(from: URL(fileURLWithPath: k))
                guard let server = try KeyPair.loadPublicKeys(from: URL(fileURLWithPath: s)).first else {
                    throw CLIError("\(s) holds no public key")
                }
                return .curve(client: pair, serverPublicKey: server)
            }
        default:
            throw CLIError("CURVE needs both --key (this worker's key pair) and --server-key (the coordinator's public key)")
        }
    }
}
