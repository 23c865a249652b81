import Foundation
import OuroData

/// Renders a `ReportData` as one self-contained HTML page (inline SVG and PNG, no network).
enum HTMLReport {
    static func render(_ d: ReportData) throws -> String {
        var body = ""
        body += "<h1>\(SVG.esc(d.title))</h1>"
        body += "<p class=\"meta\">Model <code>\(SVG.esc(d.model))</code> (sha256 <code>\(d.modelSHA256.prefix(16))…</code>), \(SVG.esc(d.configSummary)). "
        body += "Evaluated on \(SVG.esc(d.testSet)), \(d.testSamples) images. FP top-1 <b>\(pct(d.fpTop1))</b>.</p>"
        body += section("accuracy", "Accuracy: FP vs quantized", accuracyTable(d))
        if !d.sampleGrids.isEmpty {
            var s = "<p>De-normalised synthetic calibration images (first 32 of each set).</p>"
            for g in d.sampleGrids {
                s += "<figure><img alt=\"samples \(SVG.esc(g.generator))\" src=\"data:image/png;base64,\(g.png)\"/>"
                s += "<figcaption>\(SVG.esc(g.generator))\(g.labelFidelity.map { " — classified as their target label: " + pct($0) } ?? "")</figcaption></figure>"
            }
            body += section("samples", "Synthetic samples", s)
        }
        if let a = d.attention {
            let std = try heatPNG(a.standard, side: a.side), pat = try heatPNG(a.patched, side: a.side)
            var s = "<p>Implicit attention of layer \(a.layer) for sample \(a.image), averaged over channels and both scan directions: "
            s += "the mean attention each patch receives from all patch queries, on the \(a.side)×\(a.side) patch grid (bright = more). "
            s += "Left: the plain hidden attention. Right: the patched (Δ-weighted 3×3 neighbourhood) attention that OuroMamba-Gen contrasts.</p>"
            s += "<div class=\"row\"><figure><img class=\"heat\" alt=\"standard attention\" src=\"data:image/png;base64,\(std)\"/><figcaption>implicit attention</figcaption></figure>"
            s += "<figure><img class=\"heat\" alt=\"patched attention\" src=\"data:image/png;base64,\(pat)\"/><figcaption>patched attention</figcaption></figure></div>"
            body += section("attention", "Implicit vs patched attention", s)
        }
        if let q = d.dataQuality, !q.sets.isEmpty { body += section("data-quality", "Calibration data quality", dataQuality(q)) }
        if let o = d.outlierMap {
            var s = "<p>Outlier channels of point <code>layer\(o.layer).\(SVG.esc(o.point))</code> for test image \(o.image) (W4A4 OuroMamba): red cells are channels quantized as outliers at that step. The list is rebuilt from empty at every refresh window.</p>"
            s += SVG.outlierMap(title: "layer \(o.layer) · \(o.point): channels × time steps", mask: o.mask, steps: o.steps,
                                channels: o.channels, window: o.nRefresh)
            body += section("outliers", "Outlier-channel map", s)
        }
        if !d.calibrationOutlierFractions.isEmpty {
            let layers = (0..<(d.calibrationOutlierFractions.first?.values.count ?? 0)).map { "L\($0)" }
            var s = SVG.bars(title: "Calibration outlier fraction per layer (share of sample·step·channel entries)",
                             categories: layers, series: d.calibrationOutlierFractions.map { ($0.point, $0.values) })
            if !d.evalOutlierFractions.isEmpty {
                s += SVG.bars(title: "Test-time outlier fraction per layer (dynamic lists, W4A4)",
                              categories: layers, series: d.evalOutlierFractions.map { ($0.point, $0.values) })
            }
            body += section("fractions", "Per-layer outlier fractions", s)
        }
        if !d.scales.isEmpty {
            var s = "<p>Static inlier scales S<sup>I</sup>(t) over the time step (log scale). Backward-direction points are plotted in their scan order. Dashed lines mark the refresh windows.</p>"
            let byLayer = Dictionary(grouping: d.scales, by: { $0.layer })
            for l in byLayer.keys.sorted() {
                let ser = byLayer[l]!.map { ($0.point, $0.scales.map { Double($0) }) }
                let n = ser.map { $0.1.count }.max() ?? 0
                s += SVG.lines(title: "layer \(l): S^I(t) per point", series: ser, xLabel: "time step",
                               markers: Array(stride(from: 0, through: max(0, n - 1), by: 10)), logY: true)
            }
            body += section("scales", "Calibrated inlier scales", s)
        }
        if !d.timings.isEmpty {
            var s = "<table><tr><th>phase</th><th>seconds</th></tr>"
            for t in d.timings { s += "<tr><td>\(SVG.esc(t.phase))</td><td class=\"n\">\(String(format: "%.1f", t.seconds))</td></tr>" }
            body += section("timing", "Job timing", s + "</table>")
        }
        if !d.workers.isEmpty { body += section("workers", "Job timing per worker", workerTiming(d)) }
        if !d.notes.isEmpty { body += section("notes", "Notes", "<ul>" + d.notes.map { "<li>\(SVG.esc($0))</li>" }.joined() + "</ul>") }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(SVG.esc(d.title))</title>
        <style>
        body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
        h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
        .meta{color:#555} code{background:#f3f3f3;padding:0 3px;border-radius:3px}
        table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:4px 8px;font-size:.9em} th{background:#f0f3f8}
        td.n{text-align:right;font-variant-numeric:tabular-nums} td.best{font-weight:bold;background:#eef7ee}
        figure{display:inline-block;margin:6px 12px 6px 0;vertical-align:top} figcaption{font-size:.85em;color:#555;text-align:center}
        img{image-rendering:pixelated;max-width:100%} img.heat{width:224px;height:224px;border:1px solid #ccc}
        .row{display:flex;flex-wrap:wrap} svg.chart{display:block;margin:8px 0}
        svg .t{font-size:13px;font-weight:600} svg .l{font-size:11px;fill:#444} svg .frame{fill:none;stroke:#999}
        svg .grid{stroke:#e4e4e4} svg .marker{stroke:#666;stroke-dasharray:3 3}
        </style></head><body>
        \(body)
        <p class="meta">Generated by ouromamba. Results use the project's reconstruction of OuroMamba (see docs/concepts.md).</p>
        <script>
        // Marks each figure section rendered (images decoded, charts drawn) so headless checks can verify it.
        window.addEventListener('load', function () {
          document.querySelectorAll('section.figure').forEach(function (s) {
            var imgs = Array.from(s.querySelectorAll('img')), svgs = Array.from(s.querySelectorAll('svg'));
            var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; }) &&
                     svgs.every(function (g) { return g.childElementCount > 2; }) &&
                     (imgs.length + svgs.length + s.querySelectorAll('table').length) > 0;
            s.setAttribute('data-rendered', ok ? 'ok' : 'blank');
          });
          document.body.setAttribute('data-report', 'loaded');
        });
        </script>
        </body></html>
        """
    }

    static func section(_ id: String, _ title: String, _ content: String) -> String {
        "<section id=\"\(id)\" class=\"figure\"><h2>\(SVG.esc(title))</h2>\(content)</section>"
    }

    static func pct(_ v: Double) -> String { String(format: "%.2f%%", 100 * v) }

    /// Range ratios and outlier rates of each calibration set against the reference, per point
    /// (figures), then per point kind over the layers (table; ratios as geometric means).
    static func dataQuality(_ q: ReportData.DataQuality) -> String {
        var s = "<p>Each calibration set against <b>\(SVG.esc(q.reference))</b> (\(q.referenceImages) images), measured with the FP model at every quantization point. "
        s += "Static inlier scales follow the calibration set's ranges: a p99.9 ratio above 1 means coarser inlier steps on real data, below 1 means real activations get clipped; "
        s += "an outlier rate far from the reference's means the dynamic lists were sized for other data. Points are in layer order, 12 per layer (dashed lines).</p>"
        let layers = Array(stride(from: 0, to: q.points.count, by: 12))
        s += SVG.lines(title: "p99.9 of |x|: calibration set / reference (log scale)", series: q.sets.map { ($0.source, $0.p999Ratio) },
                       xLabel: "quantization point", markers: layers, logY: true, reference: 1)
        s += SVG.lines(title: "max |x|: calibration set / reference (log scale)", series: q.sets.map { ($0.source, $0.maxRatio) },
                       xLabel: "quantization point", markers: layers, logY: true, reference: 1)
        s += SVG.lines(title: "outlier-channel rate (share of entries)", series: [("reference", q.referenceOutlierRate)] + q.sets.map { ($0.source, $0.outlierRate) },
                       xLabel: "quantization point", markers: layers)
        let kinds = unique(q.points.map { String($0.split(separator: ".", maxSplits: 1).last ?? "") })
        func byKind(_ v: [Double], _ k: String, geometric: Bool) -> Double {
            let xs = q.points.indices.filter { String(q.points[$0].split(separator: ".", maxSplits: 1).last ?? "") == k }.map { v[$0] }
            guard !xs.isEmpty else { return .nan }
            return geometric ? Foundation.exp(xs.map { Foundation.log(max($0, 1e-30)) }.reduce(0, +) / Double(xs.count))
                             : xs.reduce(0, +) / Double(xs.count)
        }
        s += "<table><tr><th rowspan=\"2\">point (mean over layers)</th><th rowspan=\"2\">reference outlier rate</th>"
        for set in q.sets { s += "<th colspan=\"3\">\(SVG.esc(set.source))</th>" }
        s += "</tr><tr>" + q.sets.map { _ in "<th>p99.9 ratio</th><th>max ratio</th><th>outlier rate</th>" }.joined() + "</tr>"
        for k in kinds {
            s += "<tr><td><code>\(SVG.esc(k))</code></td><td class=\"n\">\(pct(byKind(q.referenceOutlierRate, k, geometric: false)))</td>"
            for set in q.sets {
                s += String(format: "<td class=\"n\">%.3g</td><td class=\"n\">%.3g</td>", byKind(set.p999Ratio, k, geometric: true), byKind(set.maxRatio, k, geometric: true))
                s += "<td class=\"n\">\(pct(byKind(set.outlierRate, k, geometric: false)))</td>"
            }
            s += "</tr>"
        }
        s += "</table><details><summary>every point</summary><table><tr><th>point</th><th>reference outlier rate</th>"
        for set in q.sets { s += "<th>\(SVG.esc(set.source)): p99.9 ratio / max ratio / outlier rate</th>" }
        s += "</tr>"
        for (i, p) in q.points.enumerated() {
            s += "<tr><td><code>\(SVG.esc(p))</code></td><td class=\"n\">\(pct(q.referenceOutlierRate[i]))</td>"
            for set in q.sets { s += String(format: "<td class=\"n\">%.3g / %.3g / ", set.p999Ratio[i], set.maxRatio[i]) + pct(set.outlierRate[i]) + "</td>" }
            s += "</tr>"
        }
        return s + "</table></details>"
    }

    /// Rows: calibration sources; columns: method × setting; cells: top-1 (agreement, cosine).
    static func accuracyTable(_ d: ReportData) -> String {
        let sources = unique(d.results.map { $0.source })
        let cols = unique(d.results.map { "\($0.method) \($0.setting)" })
        var s = "<table><tr><th>calibration \\ method · setting</th>"
        for c in cols { s += "<th>\(SVG.esc(c))</th>" }
        s += "</tr><tr><td>FP32</td>"
        for _ in cols { s += "<td class=\"n\">\(pct(d.fpTop1))</td>" }
        s += "</tr>"
        for src in sources {
            s += "<tr><td>\(SVG.esc(src))</td>"
            for c in cols {
                if let r = d.results.first(where: { $0.source == src && "\($0.method) \($0.setting)" == c }) {
                    var cell = pct(r.top1)
                    if let a = r.agreement { cell += String(format: "<br><small>agree %.1f%%", 100 * a) }
                    if let cs = r.logitCosine { cell += String(format: ", cos %.4f", cs) }
                    if r.agreement != nil { cell += "</small>" }
                    s += "<td class=\"n\">\(cell)</td>"
                } else { s += "<td>—</td>" }
            }
            s += "</tr>"
        }
        return s + "</table><p class=\"meta\">Top-1 on the test split; agreement = share of images whose quantized and FP argmax agree; cos = mean cosine of the logits.</p>"
    }

    /// Cluster runs: busy seconds per worker and phase as a bar chart, then a table with each
    /// worker's share of the phase's wall time and its totals.
    static func workerTiming(_ d: ReportData) -> String {
        let workers = unique(d.workers.map(\.worker)), phases = unique(d.workers.map(\.phase))
        func row(_ w: String, _ p: String) -> WorkerTiming? { d.workers.first { $0.worker == w && $0.phase == p } }
        var s = "<p>Shards each worker computed and the time it was busy on them, as the coordinator measured it: from each "
        s += "shard's dispatch (or the worker's previous result, if later) to its result, transfers included. Share = busy time / "
        s += "the phase's wall time; shards taken from the journal count for no worker.</p>"
        s += SVG.bars(title: "Busy seconds per worker and phase", categories: workers,
                      series: phases.map { p in (p, workers.map { row($0, p)?.busySeconds ?? 0 }) }, percent: false)
        s += "<table><tr><th>worker</th><th>phase</th><th>shards</th><th>busy s</th><th>share of phase</th></tr>"
        for w in workers {
            var tasks = 0, busy = 0.0
            for p in phases {
                guard let r = row(w, p) else { continue }
                tasks += r.tasks; busy += r.busySeconds
                let wall = d.timings.first { $0.phase == p }?.seconds
                let share = wall.map { $0 > 0 ? pct(r.busySeconds / $0) : "—" } ?? "—"
                s += "<tr><td>\(SVG.esc(w))</td><td>\(SVG.esc(p))</td><td class=\"n\">\(r.tasks)</td>"
                s += "<td class=\"n\">\(String(format: "%.2f", r.busySeconds))</td><td class=\"n\">\(share)</td></tr>"
            }
            s += "<tr><td><b>\(SVG.esc(w))</b></td><td>all phases</td><td class=\"n\"><b>\(tasks)</b></td>"
            s += "<td class=\"n\"><b>\(String(format: "%.2f", busy))</b></td><td>—</td></tr>"
        }
        return s + "</table>"
    }

    typealias WorkerTiming = ReportData.WorkerTiming

    static func unique(_ a: [String]) -> [String] {
        var seen = Set<String>(), out: [String] = []
        for x in a where seen.insert(x).inserted { out.append(x) }
        return out
    }

    /// Min–max heat map as a base64 PNG (nearest-neighbour upscaled).
    static func heatPNG(_ values: [Float], side: Int) throws -> String {
        let img = try HeatMap.render(values: values, rows: side, cols: side, scale: max(1, 224 / side))
        return Data(try img.pngData()).base64EncodedString()
    }
}
