import OuroEngine
import OuroModel
import OuroTestSupport
import Testing
import OuroQuant

/// The run-time outlier report (method.md §4.5 "Reported") recounted from every step's list.
@Suite("Outlier report", .enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)")) struct OutlierReportTests {
    final class Sizes {
        var of: [Int: [Int: Int]] = [:]   // point index → b·L + step → list size
    }

    @Test("outlier entries, list sizes at window ends and window counts equal a recount of the lists",
          arguments: [QuantEngine.sim, .int])
    func reportMatchesLists(engine: QuantEngine) throws {
        let f = try QuantFixture.load()
        let (q, _) = try f.quantize(.w4a4, .ouromamba)
        let hooks = try q.hooks(engine: engine, threads: 1)
        let layout = QuantLayout(q.config), L = layout.length, nRefresh = q.quant.nRefresh, batch = f.input.shape[0]
        let sizes = Sizes()
        hooks.observer = { idx, b, step, list in sizes.of[idx, default: [:]][b * L + step] = list.count }
        _ = try q.simulatedModel().forward(f.input, hooks: hooks, threads: 1)
        let report = hooks.report
        #expect(L > nRefresh, "the fixture must have more than one window")
        var listed = 0
        for idx in layout.points.indices {
            let s = try #require(sizes.of[idx], "no lists observed for \(layout.points[idx].name)")
            var entries: Int64 = 0, windowEnds: Int64 = 0, windows: Int64 = 0
            for b in 0..<batch {
                for step in 0..<L {
                    let n = Int64(try #require(s[b * L + step]))
                    entries += n
                    if step % nRefresh == nRefresh - 1 || step == L - 1 { windowEnds += n; windows += 1 }
                }
            }
            listed += Int(entries)
            let name = layout.points[idx].name
            #expect(report.outlierEntries[idx] == entries, "\(name): outlier entries")
            #expect(report.windowEndSum[idx] == windowEnds, "\(name): list sizes at window ends")
            #expect(report.windows[idx] == windows, "\(name): windows")
        }
        #expect(listed > 0, "the fixture must list some channels")
    }
}
