import Foundation
import Testing
import OuroGen
import OuroTestSupport

/// `--gen-defaults` picks the configuration the other Gen options change: the project's
/// recommended defaults unless the spec's are asked for, in `generate` and in a `syn:` source.
@Suite(.serialized, .enabled(if: CLIPrerequisites.enabled, "\(CLIPrerequisites.missingReason)"))
struct GenDefaultsTests {
    func recorded(_ dir: String) throws -> GenConfig {
        try #require(SampleSet.recorded(dir), "no readable meta.json in \(dir)").config
    }

    @Test func generateStartsFromTheChosenDefaults() throws {
        let (_, micro) = try CLIPrerequisites.require()
        let dir = NSTemporaryDirectory() + "ouro-gendefaults-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func generate(_ name: String, _ extra: [String]) throws -> GenConfig {
            let r = try CLI.run(["generate", "--model", micro, "--count", "2", "--iterations", "1", "--out", "\(dir)/\(name)", "--quiet"] + extra)
            #expect(r.status == 0, "generate \(extra): \(r.stderr.suffix(300))")
            return try recorded("\(dir)/\(name)")
        }
        func expected(_ d: GenDefaults, _ change: (inout GenConfig) -> Void = { _ in }) -> GenConfig {
            var c = GenConfig(defaults: d)
            c.samples = 2; c.iterations = 1
            change(&c)
            return c
        }
        #expect(try generate("recommended", []) == expected(.recommended))
        #expect(try generate("spec", ["--gen-defaults", "spec"]) == expected(.spec))
        #expect(try generate("spec-clamped", ["--gen-defaults", "spec", "--clamp-valid-range"]) == expected(.spec) { $0.clampValidRange = true })
        #expect(try generate("unclamped", ["--no-clamp-valid-range", "--lr", "0.1"]) == expected(.recommended) { $0.clampValidRange = false; $0.lr = 0.1 })

        // A syn: source of quantize starts from the same defaults.
        let q = try CLI.run(["quantize", "--model", micro, "--calib", "syn:ouromamba:8", "--gen-iterations", "1", "--gen-defaults", "spec",
                             "--out", "\(dir)/q/q.safetensors", "--no-report", "--quiet"])
        #expect(q.status == 0, "quantize: \(q.stderr.suffix(300))")
        var spec = GenConfig(defaults: .spec)
        spec.samples = 8; spec.iterations = 1
        #expect(try recorded("\(dir)/q/samples") == spec)
    }

    /// `compare` reuses a syn: sample folder only when it records exactly the requested
    /// configuration.
    @Test func compareReusesOnlyAnIdenticalConfiguration() throws {
        let (_, micro) = try CLIPrerequisites.require()
        let dir = NSTemporaryDirectory() + "ouro-genreuse-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func compare(_ extra: [String]) throws -> String {
            let r = try CLI.run(["compare", "--model", micro, "--calib-sources", "syn:output-only:8", "--gen-iterations", "1",
                                 "--methods", "ouromamba", "--settings", "w4a4", "--limit", "20", "--out", dir] + extra)
            #expect(r.status == 0, "compare \(extra): \(r.stderr.suffix(300))")
            return r.stderr
        }
        #expect(!(try compare([])).contains("reusing"))
        #expect(try compare([]).contains("reusing"))
        #expect(!(try compare(["--gen-defaults", "spec"])).contains("reusing"))
        #expect(try recorded("\(dir)/samples/output-only").clampValidRange == false)
    }
}
