import Foundation
import Logging
import OuroSupport

/// stderr shared by a redrawn status line and log lines. Text written without a trailing
/// newline (`"\r…"`) is the open status line; a log line first erases it and then draws it again
/// below itself, so a log message never ends up glued to a progress bar. Thread-safe: the
/// coordinator logs from its I/O thread while the job thread draws.
final class StatusLine: Sendable {
    /// The open status line; writes happen under its lock so lines never interleave.
    private let open = Locked<String?>(nil)

    /// Whether stderr is a terminal.
    let isTTY: Bool
    /// The terminal width, when known.
    let columns: Int?

    init() {
        isTTY = isatty(STDERR_FILENO) != 0
        var size = winsize()
        columns = isTTY && ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : nil
    }

    /// Writes progress output as is; remembers it as the open line unless it ends the line.
    func write(_ s: String) {
        open.withLock { open in
            emit(s)
            if s.hasSuffix("\n") { open = nil } else { open = s.hasPrefix("\r") ? s : (open ?? "") + s }
        }
    }

    /// Redraws the open line with `text` (terminals) and keeps it open.
    func draw(_ text: String) {
        write("\r" + fit(text) + "\u{1B}[K")
    }

    /// Ends the open line, if any.
    func finish() {
        open.withLock { open in
            if open != nil { emit("\n") }
            open = nil
        }
    }

    /// Writes one whole line (a log message) above the open status line.
    func log(_ line: String) {
        open.withLock { open in
            guard let open else { return emit(line + "\n") }
            emit("\r\u{1B}[K" + line + "\n" + open)
        }
    }

    /// `text` cut to the terminal width (a wrapped line cannot be redrawn in place).
    func fit(_ text: String) -> String {
        guard let columns, columns > 2, text.count > columns - 1 else { return text }
        return String(text.prefix(columns - 2)) + "…"
    }

    private func emit(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}

/// swift-log handler of the cluster commands: timestamped lines
/// (`2025-01-31T12:00:00+0100 notice ouromamba.coordinator: …`) written through a `StatusLine`.
struct ClusterLogHandler: DictionaryMetadataLogHandler {
    let label: String
    let output: StatusLine
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let meta = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        output.log("\(Self.timestamp()) \(event.level) \(label):\(meta) \(event.message)")
    }

    static func timestamp() -> String {
        var t = time(nil)
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return "-" }
        var buffer = [Int8](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
