import Foundation

/// One progress line, shared by every progress display of the tool (training, evaluation and
/// the pipeline's phases): redrawn in place on a terminal, printed as plain lines otherwise
/// (logs, pipes), where a new line appears only when something worth a line changed or
/// `interval` seconds passed.
public final class ProgressDisplay {
    private let write: (String) -> Void
    /// True when the line is redrawn in place.
    public let isTTY: Bool
    private let interval: Double
    private let redrawInterval: Double
    private let columns: Int?
    private var last = ""
    private var lastKey: String?
    private var lastPlain = Date.distantPast
    private var lastDraw = Date.distantPast

    /// `interval`: the longest silence between plain lines; `redrawInterval`: the shortest time
    /// between two terminal redraws (a final line is always drawn); `columns`: the terminal
    /// width (a longer line would wrap and could no longer be redrawn in place).
    public init(isTTY: Bool, interval: Double, redrawInterval: Double = 0, columns: Int? = nil, write: @escaping (String) -> Void) {
        self.isTTY = isTTY
        self.interval = interval
        self.redrawInterval = redrawInterval
        self.columns = columns.flatMap { $0 > 1 ? $0 : nil }
        self.write = write
    }

    /// Shows `text`. On a terminal it is redrawn (and ended with a newline when `done`);
    /// otherwise it is printed when `key` differs from the last printed key, or `interval`
    /// seconds after the last line.
    public func show(_ text: String, key: String, done: Bool) {
        let now = Date()
        if isTTY {
            var line = text
            if let columns, line.count > columns - 1 { line = String(line.prefix(columns - 2)) + "…" }
            guard line != last, done || now.timeIntervalSince(lastDraw) >= redrawInterval else { return }
            last = line
            lastDraw = now
            write("\r" + line + "\u{1B}[K")
            if done { write("\n") }
            return
        }
        guard text != last else { return }
        guard key != lastKey || now.timeIntervalSince(lastPlain) >= interval else { return }
        last = text
        lastKey = key
        lastPlain = now
        write(text + "\n")
    }

    /// A bar of `width` cells for `fraction` (clamped to 0…1).
    public static func bar(_ fraction: Double, width: Int) -> String {
        let filled = max(0, min(width, Int(fraction * Double(width))))
        return String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
    }

    /// `mm:ss` (or `h:mm:ss`), `--:--` when unknown.
    public static func clock(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "--:--" }
        let t = Int(seconds.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%02d:%02d", t / 60, t % 60)
    }
}
