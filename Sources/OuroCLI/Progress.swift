import Foundation

/// A progress display: a redrawn bar with rate and ETA on a terminal, plain periodic log
/// lines otherwise (CI logs, pipes). Silent with --quiet/--json.
final class ProgressBar {
    let label: String
    let total: Int
    let enabled: Bool
    let isTTY: Bool
    let started = Date()
    var lastPrint = Date.distantPast
    let interval: TimeInterval

    /// Units already done when the bar starts (resumed runs): excluded from the rate.
    let initial: Int

    init(_ label: String, total: Int, console: Console, interval: TimeInterval = 5, initial: Int = 0) {
        self.label = label; self.total = max(total, 1); self.initial = initial
        enabled = !console.quiet
        isTTY = isatty(STDERR_FILENO) != 0
        self.interval = isTTY ? 0.1 : interval
    }

    /// Reports `done` units with a short status text.
    func update(_ done: Int, unit: String = "it", status: String = "") {
        guard enabled else { return }
        let now = Date()
        let finished = done >= total
        guard finished || now.timeIntervalSince(lastPrint) >= interval else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(started)
        // A rate over a fraction of a second is noise; show it once there is some history.
        let rate = elapsed > 0.5 ? Double(done - initial) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : .infinity
        let frac = Double(done) / Double(total)
        if isTTY {
            let width = 24, filled = Int(frac * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = String(format: "\r%@ %@ %3.0f%% %d/%d  %.1f %@/s  ETA %@  %@\u{1B}[K", label, bar, 100 * frac, done, total,
                              rate, unit, Self.clock(eta), status)
            FileHandle.standardError.write(Data(line.utf8))
            if finished { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let line = String(format: "%@: %d/%d (%.0f%%) %.1f %@/s ETA %@ %@\n", label, done, total, 100 * frac, rate, unit,
                              Self.clock(eta), status)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    static func clock(_ s: Double) -> String {
        guard s.isFinite else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%02d:%02d", t / 60, t % 60)
    }
}
