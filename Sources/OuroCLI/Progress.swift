import Foundation
import OuroSupport

/// A progress display in units (images, steps): a redrawn bar with rate and ETA on a terminal,
/// plain periodic log lines otherwise (CI logs, pipes). Silent with --quiet/--json.
final class ProgressBar {
    let label: String
    let total: Int
    let enabled: Bool
    let started = Date()
    private let display: ProgressDisplay

    /// Units already done when the bar starts (resumed runs): excluded from the rate.
    let initial: Int

    init(_ label: String, total: Int, console: Console, interval: TimeInterval = 5, initial: Int = 0) {
        self.label = label; self.total = max(total, 1); self.initial = initial
        enabled = !console.quiet
        display = ProgressDisplay(isTTY: isatty(STDERR_FILENO) != 0, interval: interval, redrawInterval: 0.1) {
            FileHandle.standardError.write(Data($0.utf8))
        }
    }

    /// Reports `done` units with a short status text.
    func update(_ done: Int, unit: String = "it", status: String = "") {
        guard enabled else { return }
        let finished = done >= total
        let elapsed = Date().timeIntervalSince(started)
        // A rate over a fraction of a second is noise; show it once there is some history.
        let rate = elapsed > 0.5 ? Double(done - initial) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : .infinity
        let frac = Double(done) / Double(total)
        let text = display.isTTY
            ? String(format: "%@ %@ %3.0f%% %d/%d  %.1f %@/s  ETA %@  %@", label, ProgressDisplay.bar(frac, width: 24), 100 * frac,
                     done, total, rate, unit, ProgressDisplay.clock(eta), status)
            : String(format: "%@: %d/%d (%.0f%%) %.1f %@/s ETA %@ %@", label, done, total, 100 * frac, rate, unit,
                     ProgressDisplay.clock(eta), status)
        display.show(text, key: finished ? "done" : "running", done: finished)
    }
}
