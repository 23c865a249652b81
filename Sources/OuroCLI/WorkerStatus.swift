import Foundation
import OuroCluster
import OuroSupport

/// What a worker has done, shown as it goes: a line per finished task in logs, a redrawn status
/// line (tasks done, rate, running task and its step) on a terminal, nothing with --quiet/--json.
/// `summary` is the final result. Thread-safe: tasks start and finish on the compute thread, the
/// terminal line is redrawn then and from a timer between, and the summary is taken on the main
/// thread.
final class WorkerStatus: Sendable {
    /// How progress is shown.
    enum Mode { case silent, lines, terminal }

    /// One phase's tasks.
    struct PhaseCount {
        var phase: String
        var tasks = 0
        var failed = 0
        var busySeconds = 0.0
    }

    /// The figures at one moment.
    struct Snapshot {
        var tasks = 0
        var failed = 0
        var busySeconds = 0.0
        var jobs = 0
        /// Seconds since the first task started (0 before).
        var activeSeconds = 0.0
        /// Seconds the running task has run so far.
        var runningSeconds = 0.0
        var phases: [PhaseCount] = []
        var running: (id: String, step: Int?, steps: Int?)?

        /// Finished tasks per second since the first one started.
        var rate: Double { activeSeconds > 0 ? Double(tasks) / activeSeconds : 0 }
    }

    let name: String
    let mode: Mode
    let output: StatusLine
    /// What changes as tasks run; updated from the compute thread, read by the timer and `close`.
    private struct Tally {
        var state = Snapshot()
        var firstStart: Date?
        var current: (spec: TaskSpec, context: TaskContext, started: Date)?
        var closed = false
    }
    private let tally = Locked(Tally())
    /// `nonisolated(unsafe)`: dispatch sources are thread-safe (cancel from any thread).
    nonisolated(unsafe) private let timer: DispatchSourceTimer?

    init(name: String, mode: Mode, output: StatusLine) {
        self.name = name
        self.mode = mode
        self.output = output
        timer = mode == .terminal ? DispatchSource.makeTimerSource(queue: .global()) : nil
        if let timer {
            timer.schedule(deadline: .now(), repeating: 0.25)
            timer.setEventHandler { [weak self] in self?.redraw() }
            timer.resume()
        }
    }

    deinit { timer?.cancel() }

    /// `handler` with every task counted and shown.
    func wrap(_ handler: @escaping Worker.Handler) -> Worker.Handler {
        { [self] spec, context in
            let started = Date()
            tally.withLock { t in
                if t.firstStart == nil { t.firstStart = started }
                t.current = (spec, context, started)
            }
            // Drawn at once: a task shorter than the timer's period would otherwise never show.
            if mode == .terminal { redraw() }
            do {
                let out = try handler(spec, context)
                finished(spec, started: started, error: nil)
                return out
            } catch {
                finished(spec, started: started, error: error)
                throw error
            }
        }
    }

    /// Counts one job ended by the coordinator.
    func jobEnded() { tally.withLock { $0.state.jobs += 1 } }

    /// The current figures.
    var snapshot: Snapshot {
        tally.withLock { t in
            var s = t.state
            s.activeSeconds = t.firstStart.map { Date().timeIntervalSince($0) } ?? 0
            if let c = t.current {
                let p = c.context.progress
                s.running = (c.spec.id, p.step, p.steps)
                s.runningSeconds = Date().timeIntervalSince(c.started)
            }
            return s
        }
    }

    /// Stops the display (ends the terminal line) and returns the final figures.
    func close() -> Snapshot {
        timer?.cancel()
        tally.withLock { $0.closed = true }
        if mode == .terminal {
            output.draw(Self.statusText(name: name, snapshot))
            output.finish()
        }
        return snapshot
    }

    private func finished(_ spec: TaskSpec, started: Date, error: Error?) {
        let seconds = Date().timeIntervalSince(started)
        let (s, show) = tally.withLock { (t: inout Tally) -> (Snapshot, Bool) in
            t.current = nil
            if error == nil { t.state.tasks += 1 } else { t.state.failed += 1 }
            t.state.busySeconds += seconds
            if let i = t.state.phases.firstIndex(where: { $0.phase == spec.phase }) {
                if error == nil { t.state.phases[i].tasks += 1 } else { t.state.phases[i].failed += 1 }
                t.state.phases[i].busySeconds += seconds
            } else {
                t.state.phases.append(PhaseCount(phase: spec.phase, tasks: error == nil ? 1 : 0, failed: error == nil ? 0 : 1,
                                                 busySeconds: seconds))
            }
            var s = t.state
            s.activeSeconds = t.firstStart.map { Date().timeIntervalSince($0) } ?? 0
            return (s, !t.closed)
        }
        guard show else { return }
        switch mode {
        case .silent: break
        case .lines:
            let what = error.map { "failed after \(String(format: "%.2f", seconds)) s (\($0))" } ?? String(format: "done in %.2f s", seconds)
            output.log("\(ClusterLogHandler.timestamp()) worker \(name): task \(spec.id) \(what); \(Self.counts(s))")
        case .terminal:
            if let error { output.log("worker \(name): task \(spec.id) failed: \(error)") }
            redraw()
        }
    }

    private func redraw() {
        guard !tally.withLock({ $0.closed }) else { return }
        output.draw(Self.statusText(name: name, snapshot))
    }

    /// `12 tasks done, 1 failed, 0.82 tasks/s`.
    static func counts(_ s: Snapshot) -> String {
        var t = "\(s.tasks) \(s.tasks == 1 ? "task" : "tasks") done"
        if s.failed > 0 { t += ", \(s.failed) failed" }
        // A rate over less than half a second is noise.
        return t + (s.activeSeconds > 0.5 ? String(format: ", %.2f tasks/s", s.rate) : ", -.-- tasks/s")
    }

    /// The terminal line: `worker w1: 12 tasks done, 0.82 tasks/s, busy 93% | running gen.b0004 40/100`.
    static func statusText(name: String, _ s: Snapshot) -> String {
        var t = "worker \(name): " + counts(s)
        if s.activeSeconds > 0.5 { t += String(format: ", busy %.0f%%", 100 * min(1, (s.busySeconds + s.runningSeconds) / s.activeSeconds)) }
        if let r = s.running {
            t += " | running \(r.id)"
            if let step = r.step, let steps = r.steps { t += " \(step)/\(steps)" }
        } else {
            t += " | idle"
        }
        return t
    }

    /// The final JSON object of `worker --json`.
    static func json(name: String, exit: String, seconds: Double, _ s: Snapshot) -> [String: Any] {
        ["worker": name, "exit": exit, "seconds": seconds, "jobs": s.jobs, "tasks": s.tasks, "failed": s.failed,
         "busy_seconds": s.busySeconds, "tasks_per_second": s.rate,
         "phases": s.phases.map { ["phase": $0.phase, "tasks": $0.tasks, "failed": $0.failed, "busy_seconds": $0.busySeconds] }]
    }
}
