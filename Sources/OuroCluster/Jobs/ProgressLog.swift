import Foundation

/// Turns progress snapshots into one-line reports per phase and shard, with each worker's
/// state: `[gen] shards 3/8 (1 resumed, 2 running, 3 pending, 1 retry) | local-0 busy gen.b0003 40/100 | local-1 idle`.
/// On a terminal the line is redrawn; otherwise a line is printed when the phase, the number of
/// finished shards or the set of workers changes, and at least every `interval` seconds.
public final class ProgressLog {
    private let write: (String) -> Void
    private let isTTY: Bool
    private let interval: Double
    private var last = ""
    private var lastKey = ""
    private var lastTime = Date.distantPast

    /// Creates a reporter writing with `write` (for example to stderr).
    public init(isTTY: Bool, interval: Double = 10, write: @escaping (String) -> Void) {
        self.isTTY = isTTY
        self.interval = interval
        self.write = write
    }

    /// The line for a snapshot.
    public static func line(_ p: ClusterProgress) -> String {
        var s = "[\(p.phase ?? "-")] shards \(p.tasksDone)/\(p.tasksTotal)"
        var detail: [String] = []
        if p.tasksResumed > 0 { detail.append("\(p.tasksResumed) resumed") }
        detail.append("\(p.tasksInFlight) running")
        if p.tasksPending > 0 { detail.append("\(p.tasksPending) pending") }
        if p.phaseRetries > 0 { detail.append("\(p.phaseRetries) \(p.phaseRetries == 1 ? "retry" : "retries")") }
        if p.lostWorkers > 0 { detail.append("\(p.lostWorkers) lost") }
        if p.rejectedMessages > 0 { detail.append("\(p.rejectedMessages) rejected") }
        if p.authFailures > 0 { detail.append("\(p.authFailures) auth failures") }
        s += " (" + detail.joined(separator: ", ") + ")"
        if let eta = p.etaSeconds, p.tasksDone < p.tasksTotal { s += String(format: " ETA %.0f s", eta) }
        // Live workers, then each lost worker once (a re-registered worker is shown live only).
        let live = Set(p.workers.filter { $0.state != .dead }.map(\.workerId))
        var shownDead = Set<String>()
        let shown = p.workers.filter { w in
            w.state != .dead || (!live.contains(w.workerId) && shownDead.insert(w.workerId).inserted)
        }
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
        let text = ProgressLog.line(p)
        guard text != last else { return }
        last = text
        if isTTY {
            write("\r" + text + "\u{1B}[K")
            if p.tasksDone == p.tasksTotal { write("\n") }
            return
        }
        let key = "\(p.phase ?? "")|\(p.tasksDone)|\(p.workers.map { "\($0.workerId)=\($0.state.rawValue)" })"
        let now = Date()
        guard key != lastKey || now.timeIntervalSince(lastTime) >= interval else { return }
        lastKey = key
        lastTime = now
        write(text + "\n")
    }
}
