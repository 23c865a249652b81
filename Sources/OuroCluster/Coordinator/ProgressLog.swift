import OuroSupport
import Foundation

/// Turns progress snapshots into one-line reports per phase and shard, with the shard rate and
/// each worker's state.
///
/// On a terminal the line is a redrawn bar:
/// `[gen] ██████········ 3/8 shards  0.7 shards/s  ETA 00:07  2 running, 3 pending | local-0 busy gen.b0003 40/100 | local-1 idle`.
/// Otherwise (logs, pipes) a plain line
/// `[gen] shards 3/8 (2 running, 3 pending) 0.7 shards/s ETA 7 s | local-0 busy gen.b0003 40/100 | local-1 idle`
/// is printed when the phase, the number of finished shards or the set of workers changes, and
/// at least every `interval` seconds.
public final class ProgressLog {
    private let display: ProgressDisplay

    /// Creates a reporter writing with `write` (for example to stderr). `columns`: the terminal
    /// width; a redrawn line longer than that would wrap and could no longer be redrawn in place.
    public init(isTTY: Bool, interval: Double = 10, columns: Int? = nil, write: @escaping (String) -> Void) {
        display = ProgressDisplay(isTTY: isTTY, interval: interval, columns: columns, write: write)
    }

    /// Shards computed per second in this run (resumed shards excluded); nil during the first
    /// half second of a phase, since a rate over less is noise (a finished phase has its rate).
    public static func rate(_ p: ClusterProgress) -> Double? {
        let finished = p.tasksTotal > 0 && p.tasksDone >= p.tasksTotal
        guard p.elapsedSeconds >= 0.5 || (finished && p.elapsedSeconds > 0) else { return nil }
        return Double(p.tasksDone - p.tasksResumed) / p.elapsedSeconds
    }

    /// The plain line for a snapshot.
    public static func line(_ p: ClusterProgress) -> String {
        var s = "[\(p.phase ?? "-")] shards \(p.tasksDone)/\(p.tasksTotal)"
        s += " (" + details(p).joined(separator: ", ") + ")"
        if let r = rate(p) { s += String(format: " %.2f shards/s", r) }
        if let eta = p.etaSeconds, p.tasksDone < p.tasksTotal { s += String(format: " ETA %.0f s", eta) }
        return s + workers(p)
    }

    /// The terminal line for a snapshot: bar, shards, rate, ETA, then the details and the workers.
    public static func bar(_ p: ClusterProgress, width: Int = 20) -> String {
        let frac = p.tasksTotal > 0 ? Double(p.tasksDone) / Double(p.tasksTotal) : 0
        var s = "[\(p.phase ?? "-")] " + ProgressDisplay.bar(frac, width: width)
        s += " \(p.tasksDone)/\(p.tasksTotal) shards"
        s += rate(p).map { String(format: "  %.2f shards/s", $0) } ?? "  -.-- shards/s"
        // Done: no time is left; unknown (nothing computed yet): dashes.
        let eta = p.tasksDone >= p.tasksTotal ? 0 : p.etaSeconds
        s += "  ETA " + ProgressDisplay.clock(eta) + "  " + details(p).joined(separator: ", ")
        return s + workers(p)
    }

    private static func details(_ p: ClusterProgress) -> [String] {
        var detail: [String] = []
        if p.tasksResumed > 0 { detail.append("\(p.tasksResumed) resumed") }
        detail.append("\(p.tasksInFlight) running")
        if p.tasksPending > 0 { detail.append("\(p.tasksPending) pending") }
        if p.phaseRetries > 0 { detail.append("\(p.phaseRetries) \(p.phaseRetries == 1 ? "retry" : "retries")") }
        if p.lostWorkers > 0 { detail.append("\(p.lostWorkers) lost") }
        if p.rejectedMessages > 0 { detail.append("\(p.rejectedMessages) rejected") }
        if p.authFailures > 0 { detail.append("\(p.authFailures) auth failures") }
        return detail
    }

    /// ` | w1 busy gen.b0003 40/100 | w2 idle`: live workers, then each lost worker once
    /// (a re-registered worker is shown live only).
    private static func workers(_ p: ClusterProgress) -> String {
        let live = Set(p.workers.filter { $0.state != .dead }.map(\.workerId))
        var shownDead = Set<String>()
        let shown = p.workers.filter { w in
            w.state != .dead || (!live.contains(w.workerId) && shownDead.insert(w.workerId).inserted)
        }
        var s = ""
        for w in shown {
            var ws = "\(w.workerId) \(w.state.rawValue)"
            if w.state == .busy {
                ws += " " + w.tasks.joined(separator: ",")
                if let step = w.step, let steps = w.steps { ws += " \(step)/\(steps)" }
            }
            s += " | " + ws
        }
        return s
    }

    /// Reports a snapshot.
    public func report(_ p: ClusterProgress) {
        if display.isTTY {
            display.show(ProgressLog.bar(p), key: "", done: p.tasksDone == p.tasksTotal)
        } else {
            let key = "\(p.phase ?? "")|\(p.tasksDone)|\(p.workers.map { "\($0.workerId)=\($0.state.rawValue)" })"
            display.show(ProgressLog.line(p), key: key, done: p.tasksDone == p.tasksTotal)
        }
    }
}
