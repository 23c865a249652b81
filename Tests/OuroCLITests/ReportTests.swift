import Foundation
import Testing
import OuroData
import OuroTestSupport

/// The run report: every figure present and non-blank, checked in headless Chromium when it
/// is installed, and from the HTML/SVG structure otherwise.
@Suite(.serialized, .enabled(if: CLIPrerequisites.enabled, "\(CLIPrerequisites.missingReason)"))
struct ReportTests {
    static let sections = ["accuracy", "samples", "attention", "outliers", "fractions", "scales", "timing"]

    @Test func reportHasEveryFigure() throws {
        let (_, micro) = try CLIPrerequisites.require()
        let dir = NSTemporaryDirectory() + "ouro-report-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["compare", "--model", micro, "--calib-sources", "noise:8,syn:ouromamba:8", "--gen-iterations", "2",
                             "--methods", "ouromamba,static-per-token", "--settings", "w4a4", "--limit", "40", "--out", dir, "--quiet"])
        #expect(r.status == 0, "\(r.stderr.suffix(500))")
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report.json"))) as? [String: Any]
        #expect((json?["results"] as? [Any])?.count == 4)
        // Structure: each section exists; each embedded PNG decodes to a non-constant image; each chart has content.
        for s in Self.sections { #expect(html.contains("<section id=\"\(s)\""), "missing section \(s)") }
        let pngs = html.components(separatedBy: "data:image/png;base64,").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        #expect(pngs.count >= 3)
        for b64 in pngs {
            let bytes = try #require(Data(base64Encoded: b64))
            let (w, h, pixels) = try PNGCheck.decodeRGB(Array(bytes))
            #expect(w > 0 && h > 0)
            #expect(Set(pixels).count > 2, "a PNG figure is blank")
        }
        let svgs = html.components(separatedBy: "<svg").count - 1
        let rects = html.components(separatedBy: "<rect").count + html.components(separatedBy: "<polyline").count
        #expect(svgs >= 4 && rects > 50)
        // Rendering: headless Chromium marks each section after the page has loaded.
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("NOTE: chromium not installed; checked the report from its HTML/SVG structure only")
            return
        }
        let dom = try CLI.shell([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                                 "--dump-dom", "file://" + dir + "/report.html"], timeout: 120)
        #expect(dom.stdout.contains("data-report=\"loaded\""), "chromium did not load the report: \(dom.stderr.suffix(300))")
        for s in Self.sections {
            #expect(dom.stdout.contains("id=\"\(s)\" class=\"figure\" data-rendered=\"ok\""), "section \(s) not rendered")
        }
        let shot = try CLI.shell([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,1800",
                                  "--screenshot=" + dir + "/shot.png", "file://" + dir + "/report.html"], timeout: 120)
        #expect(shot.status == 0)
        let (_, _, px) = try PNGCheck.decodeRGB(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/shot.png"))))
        #expect(Set(px).count > 50, "the screenshot is blank")
    }
}

extension ReportTests {
    /// `quantize --workers 2` shows the time per phase and per worker (table and chart, also in
    /// report.json); the single-process run has no per-worker section.
    @Test func clusterReportHasPerWorkerTiming() throws {
        let (_, micro) = try CLIPrerequisites.require()
        let dir = NSTemporaryDirectory() + "ouro-report-workers-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let common = ["quantize", "--model", micro, "--calib", "noise:16", "--setting", "w4a4", "--eval-limit", "40", "--quiet"]
        let c = try CLI.run(common + ["--out", dir + "/cluster/q.safetensors", "--workers", "2"])
        #expect(c.status == 0, "\(c.stderr.suffix(500))")
        let s = try CLI.run(common + ["--out", dir + "/single/q.safetensors", "--threads", "1"])
        #expect(s.status == 0, "\(s.stderr.suffix(500))")

        func load(_ run: String) throws -> (html: String, json: [String: Any]) {
            let html = try String(contentsOfFile: "\(dir)/\(run)/report.html", encoding: .utf8)
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(run)/report.json"))
            return (html, try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]))
        }
        let cluster = try load("cluster"), single = try load("single")
        // report.json: one row per worker and phase; the phases also have their own timing rows.
        let rows = try #require(cluster.json["workers"] as? [[String: Any]])
        let timed = Set((cluster.json["timings"] as? [[String: Any]] ?? []).compactMap { $0["phase"] as? String })
        #expect(Set(rows.compactMap { $0["worker"] as? String }) == ["local-0", "local-1"], "\(rows)")
        #expect(Set(rows.compactMap { $0["phase"] as? String }) == ["calib-pass1", "calib-pass2", "weights"])
        #expect(rows.allSatisfy { timed.contains($0["phase"] as? String ?? "") && ($0["busy_seconds"] as? Double ?? -1) >= 0 })
        // noise:16 is 2 calibration shards per pass, and the micro model has 2 layers: 6 shards in all.
        #expect(rows.reduce(0) { $0 + ($1["tasks"] as? Int ?? 0) } == 6)
        let start = try #require(cluster.html.range(of: "<section id=\"workers\""), "no per-worker section")
        let body = String(cluster.html[start.lowerBound...]).components(separatedBy: "</section>")[0]
        #expect(body.contains("Job timing per worker") && body.contains("<svg") && body.contains("local-1"))
        #expect(body.components(separatedBy: "<tr>").count - 1 == 1 + 2 * 4, "header + 3 phases and a total per worker")
        // Single process: phase timing only.
        #expect(single.html.contains("<section id=\"timing\"") && !single.html.contains("<section id=\"workers\""))
        #expect((single.json["workers"] as? [Any])?.isEmpty ?? true)
    }
}

/// A small PNG decoder for checks (8-bit greyscale, RGB or RGBA; all five filter types).
enum PNGCheck {
    struct Bad: Error {}

    static func decodeRGB(_ b: [UInt8]) throws -> (Int, Int, [UInt8]) {
        guard b.count > 8, Array(b[0..<8]) == [137, 80, 78, 71, 13, 10, 26, 10] else { throw Bad() }
        var i = 8, w = 0, h = 0, ct = 0
        var idat: [UInt8] = []
        func u32(_ o: Int) -> Int { Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]) }
        while i + 8 <= b.count {
            let len = u32(i), type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            let data = Array(b[(i + 8)..<(i + 8 + len)])
            if type == "IHDR" { w = u32(i + 8); h = u32(i + 12); ct = Int(data[9]); guard data[8] == 8 else { throw Bad() } }
            if type == "IDAT" { idat += data }
            i += 12 + len
        }
        let ch = ct == 0 ? 1 : ct == 2 ? 3 : ct == 6 ? 4 : ct == 4 ? 2 : 0
        guard ch > 0 else { throw Bad() }
        let raw = try Zlib.inflate(idat, format: .zlib, name: "png")
        let stride = w * ch
        var out = [UInt8](repeating: 0, count: h * stride), prev = [UInt8](repeating: 0, count: stride)
        for y in 0..<h {
            let f = raw[y * (stride + 1)]
            var line = Array(raw[(y * (stride + 1) + 1)..<((y + 1) * (stride + 1))])
            for x in 0..<stride {
                let a = x >= ch ? Int(line[x - ch]) : 0, up = Int(prev[x]), c = x >= ch ? Int(prev[x - ch]) : 0
                var v = Int(line[x])
                switch f {
                case 1: v += a
                case 2: v += up
                case 3: v += (a + up) / 2
                case 4:
                    let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    v += (pa <= pb && pa <= pc) ? a : (pb <= pc ? up : c)
                default: break
                }
                line[x] = UInt8(v & 0xff)
            }
            out.replaceSubrange((y * stride)..<((y + 1) * stride), with: line)
            prev = line
        }
        return (w, h, out)
    }
}
