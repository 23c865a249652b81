import OuroTestSupport
import Testing

/// Settings, methods, generators and engines are parsed before anything runs: a bad value is a
/// usage error (exit 2) that names the valid values, and `--help` lists them.
@Suite(.enabled(if: CLI.available, "the ouromamba binary is not built"))
struct ArgumentParsingTests {
    @Test(arguments: [
        (["quantize", "--calib", "noise:2", "--out", "/tmp/never.safetensors", "--setting", "w9a4"], "expected w4a4, w4a8, w8a8 or wXaYoZ"),
        (["quantize", "--calib", "noise:2", "--out", "/tmp/never.safetensors", "--method", "minmax"], "static-minmax"),
        (["generate", "--out", "/tmp/never", "--method", "gan"], "contrastive-raw"),
        (["bench", "gen", "--method", "gan"], "contrastive-raw"),
        (["compare", "--out", "/tmp/never", "--methods", "ouromamba,nope"], "static-outlier-list"),
        (["compare", "--out", "/tmp/never", "--settings", "w4a4,w3"], "expected w4a4, w4a8, w8a8 or wXaYoZ"),
        (["compare", "--out", "/tmp/never", "--engine", "float"], "sim"),
        (["quantize", "--calib", "noise:0", "--out", "/tmp/never.safetensors"], "expected a positive count"),
        (["quantize", "--calib", "syn:gan:8", "--out", "/tmp/never.safetensors"], "expected syn:GENERATOR:N"),
        (["compare", "--out", "/tmp/never", "--calib-sources", "real:8,real:x"], "expected a positive count"),
        (["quantize", "--calib", "noise:2", "--out", "/tmp/never.safetensors", "--setting", "w5a4o8"], "weight bits 5: expected one of 4, 8"),
        // The format table refuses, before any calibration, what the engine cannot run.
        (["compare", "--out", "/tmp/never", "--settings", "w4a4,w4a6o8", "--engine", "int"], "--engine int supports inlier bits 4/8 and outlier bits 8/16, not w4a6o8"),
        (["coordinator", "--bind", "ipc:///tmp/never", "--setting", "w4"], "expected w4a4, w4a8, w8a8 or wXaYoZ"),
        (["bench", "detect", "--path", "avx3"], "'auto', 'portable', 'avx2' or 'avx512'"),
    ])
    func badValueIsAUsageError(args: [String], mentions: String) throws {
        let r = try CLI.run(args, timeout: 60)
        #expect(r.status == 2, "exit \(r.status) for \(args.joined(separator: " ")): \(r.stderr.prefix(300))")
        #expect(r.stderr.contains(mentions), "\(args.joined(separator: " ")): \(r.stderr.prefix(300))")
    }

    @Test func helpListsTheValues() throws {
        let q = try CLI.run(["quantize", "--help"], timeout: 60)
        #expect(q.status == 0)
        // ArgumentParser's "(values: …)" list; help text may wrap between values.
        for v in ["values: ouromamba", "static-minmax", "static-per-token", "static-outlier-list"] {
            #expect(q.stdout.contains(v), "quantize --help lacks \(v)")
        }
        let g = try CLI.run(["generate", "--help"], timeout: 60)
        for v in ["values: noise", "output-only", "contrastive-raw"] { #expect(g.stdout.contains(v), "generate --help lacks \(v)") }
    }
}
