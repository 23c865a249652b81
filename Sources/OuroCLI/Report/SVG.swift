import Foundation

/// Minimal self-contained SVG charts for the run report (no scripts, no network).
enum SVG {
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let palette = ["#3b6fb6", "#d9822b", "#3a9d5d", "#c23b3b", "#7d5ba6", "#8c6d31", "#d45fa0", "#6b6b6b",
                          "#2aa9b8", "#b8b82a", "#1f3d7a", "#e0a060"]

    /// A grouped bar chart: one group per category, one bar per series.
    static func bars(title: String, categories: [String], series: [(name: String, values: [Double])],
                     width: Int = 720, height: Int = 260, percent: Bool = true) -> String {
        let left = 50.0, right = 160.0, top = 28.0, bottom = 36.0
        let w = Double(width) - left - right, h = Double(height) - top - bottom
        let (maxV, step) = niceScale(max(series.flatMap { $0.values }.max() ?? 0, 1e-12) * 1.05, percent: percent)
        var s = "<svg class=\"chart\" role=\"img\" aria-label=\"\(esc(title))\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\">"
        s += "<text x=\"\(left)\" y=\"18\" class=\"t\">\(esc(title))</text>"
        s += axes(left: left, top: top, w: w, h: h, maxV: maxV, step: step, percent: percent)
        let groupW = w / Double(max(1, categories.count))
        let barW = groupW * 0.8 / Double(max(1, series.count))
        for (ci, cat) in categories.enumerated() {
            for (si, ser) in series.enumerated() where ci < ser.values.count {
                let v = ser.values[ci]
                let bh = h * v / maxV
                let x = left + Double(ci) * groupW + groupW * 0.1 + Double(si) * barW
                s += "<rect x=\"\(f(x))\" y=\"\(f(top + h - bh))\" width=\"\(f(max(1, barW - 1)))\" height=\"\(f(bh))\" fill=\"\(palette[si % palette.count])\"><title>\(esc(ser.name)) \(esc(cat)): \(fmt(v, percent))</title></rect>"
            }
            s += "<text x=\"\(f(left + Double(ci) * groupW + groupW / 2))\" y=\"\(f(top + h + 14))\" class=\"l\" text-anchor=\"middle\">\(esc(cat))</text>"
        }
        s += legend(series.map { $0.name }, x: left + w + 12, y: top)
        return s + "</svg>"
    }

    /// Line chart of several series over an integer x axis, with optional vertical markers and a
    /// horizontal reference line at `reference`.
    static func lines(title: String, series: [(name: String, values: [Double])], xLabel: String,
                      markers: [Int] = [], width: Int = 720, height: Int = 240, logY: Bool = false, reference: Double? = nil) -> String {
        let left = 60.0, right = 170.0, top = 28.0, bottom = 36.0
        let w = Double(width) - left - right, h = Double(height) - top - bottom
        let n = series.map { $0.values.count }.max() ?? 1
        func tr(_ v: Double) -> Double { logY ? Foundation.log10(max(v, 1e-12)) : v }
        let vals = series.flatMap { $0.values }.map(tr) + (reference.map { [tr($0)] } ?? [])
        let lo = vals.min() ?? 0, hi = max(vals.max() ?? 1, lo + 1e-12)
        var s = "<svg class=\"chart\" role=\"img\" aria-label=\"\(esc(title))\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\">"
        s += "<text x=\"\(left)\" y=\"18\" class=\"t\">\(esc(title))</text>"
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(f(w))\" height=\"\(f(h))\" class=\"frame\"/>"
        for m in markers {
            let x = left + w * Double(m) / Double(max(1, n - 1))
            s += "<line x1=\"\(f(x))\" y1=\"\(top)\" x2=\"\(f(x))\" y2=\"\(f(top + h))\" class=\"marker\"/>"
        }
        if let reference {
            let y = top + h - h * (tr(reference) - lo) / (hi - lo)
            s += "<line x1=\"\(left)\" y1=\"\(f(y))\" x2=\"\(f(left + w))\" y2=\"\(f(y))\" class=\"marker\"/>"
            s += "<text x=\"\(f(left - 4))\" y=\"\(f(y + 4))\" class=\"l\" text-anchor=\"end\">\(String(format: "%.3g", reference))</text>"
        }
        for (si, ser) in series.enumerated() {
            let pts = ser.values.enumerated().map { (i, v) -> String in
                let x = left + w * Double(i) / Double(max(1, n - 1))
                let y = top + h - h * (tr(v) - lo) / (hi - lo)
                return "\(f(x)),\(f(y))"
            }.joined(separator: " ")
            s += "<polyline points=\"\(pts)\" fill=\"none\" stroke=\"\(palette[si % palette.count])\" stroke-width=\"1.5\"><title>\(esc(ser.name))</title></polyline>"
        }
        let loLabel = String(format: "%.3g", logY ? Foundation.pow(10, lo) : lo)
        let hiLabel = String(format: "%.3g", logY ? Foundation.pow(10, hi) : hi)
        s += "<text x=\"\(f(left - 4))\" y=\"\(f(top + h))\" class=\"l\" text-anchor=\"end\">\(loLabel)</text>"
        s += "<text x=\"\(f(left - 4))\" y=\"\(f(top + 8))\" class=\"l\" text-anchor=\"end\">\(hiLabel)</text>"
        s += "<text x=\"\(f(left + w / 2))\" y=\"\(f(top + h + 26))\" class=\"l\" text-anchor=\"middle\">\(esc(xLabel)) (0…\(n - 1))</text>"
        s += legend(series.map { $0.name }, x: left + w + 12, y: top)
        return s + "</svg>"
    }

    /// Binary map (rows = channels, columns = steps), with window boundaries every `window` steps.
    static func outlierMap(title: String, mask: [UInt8], steps: Int, channels: Int, window: Int, width: Int = 720) -> String {
        let left = 50.0, top = 28.0
        let cell = max(2.0, min(10.0, (Double(width) - left - 20) / Double(max(1, steps))))
        let ch = max(2.0, min(8.0, 360.0 / Double(max(1, channels))))
        let w = cell * Double(steps), h = ch * Double(channels)
        var s = "<svg class=\"chart\" role=\"img\" aria-label=\"\(esc(title))\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + w + 20))\" height=\"\(Int(top + h + 40))\">"
        s += "<text x=\"\(left)\" y=\"18\" class=\"t\">\(esc(title))</text>"
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"#f4f4f4\"/>"
        for t in 0..<steps {
            for c in 0..<channels where mask[t * channels + c] != 0 {
                s += "<rect x=\"\(f(left + Double(t) * cell))\" y=\"\(f(top + Double(c) * ch))\" width=\"\(f(cell))\" height=\"\(f(ch))\" fill=\"#c23b3b\"/>"
            }
        }
        var t = 0
        while t <= steps {
            s += "<line x1=\"\(f(left + Double(t) * cell))\" y1=\"\(top)\" x2=\"\(f(left + Double(t) * cell))\" y2=\"\(f(top + h))\" class=\"marker\"/>"
            t += window
        }
        s += "<text x=\"\(f(left + w / 2))\" y=\"\(f(top + h + 16))\" class=\"l\" text-anchor=\"middle\">time step (dashed lines: refresh windows of \(window) steps)</text>"
        s += "<text x=\"\(f(left - 6))\" y=\"\(f(top + h / 2))\" class=\"l\" text-anchor=\"end\">channel</text>"
        return s + "</svg>"
    }

    static func axes(left: Double, top: Double, w: Double, h: Double, maxV: Double, step: Double, percent: Bool) -> String {
        var s = "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(f(w))\" height=\"\(f(h))\" class=\"frame\"/>"
        let n = Int((maxV / step).rounded())
        for i in 0...max(1, n) {
            let v = step * Double(i), y = top + h - h * v / maxV
            s += "<line x1=\"\(left)\" y1=\"\(f(y))\" x2=\"\(f(left + w))\" y2=\"\(f(y))\" class=\"grid\"/>"
            s += "<text x=\"\(f(left - 4))\" y=\"\(f(y + 4))\" class=\"l\" text-anchor=\"end\">\(fmt(v, percent))</text>"
        }
        return s
    }

    /// An axis top at a multiple of a round step (1, 2, 2.5 or 5 × 10^k; in percent points for
    /// percentages) with at most five steps, so tick labels read as round numbers.
    static func niceScale(_ top: Double, percent: Bool) -> (top: Double, step: Double) {
        let unit = percent ? 0.01 : 1.0, raw = top / unit / 5
        let p = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        let step = ([1, 2, 2.5, 5, 10].map { $0 * p }.first { $0 >= raw } ?? 10 * p) * unit
        return ((top / step).rounded(.up) * step, step)
    }

    static func legend(_ names: [String], x: Double, y: Double) -> String {
        var s = ""
        for (i, n) in names.enumerated() {
            let yy = y + Double(i) * 16
            s += "<rect x=\"\(f(x))\" y=\"\(f(yy))\" width=\"10\" height=\"10\" fill=\"\(palette[i % palette.count])\"/>"
            s += "<text x=\"\(f(x + 14))\" y=\"\(f(yy + 9))\" class=\"l\">\(esc(n))</text>"
        }
        return s
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }
    static func fmt(_ v: Double, _ percent: Bool) -> String { percent ? String(format: "%.3g%%", 100 * v) : String(format: "%.3g", v) }
}
