import Foundation
import Testing
import OuroTestSupport

/// Runs every command example in `docs/*.md` fenced as ```sh test, so the docs stay true to the CLI.
@Suite(.serialized, .enabled(if: CLIPrerequisites.enabled, "\(CLIPrerequisites.missingReason)"))
struct DocsExamplesTests {
    /// The model the docs' examples use by default (models/, in the repository).
    static var embeddedModelPresent: Bool {
        FileManager.default.fileExists(atPath: Fixtures.packageRoot.appendingPathComponent("models/vim-fashion.safetensors").path)
    }

    static func examples() throws -> [(file: String, command: String)] {
        let docs = Fixtures.packageRoot.appendingPathComponent("docs")
        let files = try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { $0.hasSuffix(".md") }.sorted()
        var out: [(String, String)] = []
        for f in files {
            let text = try String(contentsOf: docs.appendingPathComponent(f), encoding: .utf8)
            var inBlock = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("```sh test") { inBlock = true; continue }
                if line.hasPrefix("```") { inBlock = false; continue }
                if inBlock && !line.trimmingCharacters(in: .whitespaces).isEmpty && !line.hasPrefix("#") { out.append((f, String(line))) }
            }
        }
        return out
    }

    @Test(.enabled(if: DocsExamplesTests.embeddedModelPresent, "the embedded model models/vim-fashion.safetensors is missing"))
    func docsCommandExamplesSucceed() throws {
        let (bin, _) = try CLIPrerequisites.require()
        let examples = try Self.examples()
        #expect(examples.count >= 5)
        let dir = NSTemporaryDirectory() + "ouro-docs-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let binDir = URL(fileURLWithPath: bin).deletingLastPathComponent().path
        let path = binDir + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        for (file, cmd) in examples {
            let r = try CLI.shell(["/bin/bash", "-c", cmd], environment: ["PATH": path, "OUROMAMBA_HOME": Fixtures.packageRoot.path,
                                                                          "OUROMAMBA_FIXTURES": Fixtures.directory?.path ?? ""],
                                  timeout: 300, directory: URL(fileURLWithPath: dir))
            #expect(r.status == 0, "docs/\(file): `\(cmd)` exited \(r.status): \(r.stderr.suffix(400))")
        }
    }
}
