import Foundation
import OuroTestSupport
import Testing

/// `compare`'s calibration-data quality diagnostic, end to end.
@Suite(.serialized, .enabled(if: ImageDataPrerequisites.enabled, "needs the ouromamba binary, ../shared/fixtures and dataset-fashion-mnist"))
struct DataQualityTests {
    @Test func compareReportsRangesAgainstRealImages() throws {
        try #require(ImageDataPrerequisites.ready, "missing the binary, ../shared/fixtures or dataset-fashion-mnist (CI=true)")
        let dir = NSTemporaryDirectory() + "ouro-dq-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["compare", "--calib-sources", "real:16,noise:16", "--methods", "static-minmax", "--settings", "w4a4",
                             "--limit", "40", "--reference-images", "32", "--out", dir, "--json"])
        #expect(r.status == 0, "\(r.stderr.suffix(400))")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data((r.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        let q = try #require(obj["data_quality"] as? [String: Any])
        #expect((q["reference_images"] as? Int) == 32)
        let points = try #require(q["points"] as? [String])
        #expect(points.count == 72 && points.first == "layer0.in")
        let sets = try #require(q["sets"] as? [[String: Any]])
        #expect(sets.map { $0["source"] as? String } == ["real:16", "noise:16"])
        // Real training images have the test images' ranges; Gaussian noise does not.
        func spread(_ s: [String: Any]) -> Double {
            let v = (s["p999_ratio"] as? [Double]) ?? []
            return v.map { abs(log($0)) }.reduce(0, +) / Double(max(1, v.count))
        }
        #expect(spread(sets[0]) < 0.1, "real:16 mean |log ratio| \(spread(sets[0]))")
        #expect(spread(sets[1]) > 2 * spread(sets[0]), "noise \(spread(sets[1])) vs real \(spread(sets[0]))")
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("id=\"data-quality\"") && html.contains("p99.9 of |x|"))
        let md = try String(contentsOfFile: dir + "/compare.md", encoding: .utf8)
        #expect(md.contains("## Calibration data quality") && md.contains("| noise:16 |"))
    }

    /// `eval --quantized-only` gives the same top-1 as the full quantized evaluation, without FP figures.
    @Test func quantizedOnlyEvaluation() throws {
        try #require(ImageDataPrerequisites.ready, "missing the binary, ../shared/fixtures or dataset-fashion-mnist (CI=true)")
        let dir = NSTemporaryDirectory() + "ouro-qo-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let q = try CLI.run(["quantize", "--calib", "noise:8", "--no-report", "--out", dir + "/q.safetensors", "--quiet"])
        #expect(q.status == 0, "\(q.stderr.suffix(300))")
        func run(_ extra: [String]) throws -> [String: Any] {
            let r = try CLI.run(["eval", "--quantized", dir + "/q.safetensors", "--engine", "int", "--limit", "200", "--json"] + extra)
            #expect(r.status == 0, "\(r.stderr.suffix(300))")
            return try #require(try JSONSerialization.jsonObject(with: Data((r.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        }
        let full = try run([]), alone = try run(["--quantized-only"])
        #expect((alone["top1"] as? Double) == (full["top1"] as? Double))
        #expect(alone["agreement"] == nil && full["agreement"] != nil)
        let bad = try CLI.run(["eval", "--quantized-only"])
        #expect(bad.status == 2)
    }
}
