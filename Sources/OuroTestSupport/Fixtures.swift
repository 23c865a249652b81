import Foundation

/// Locates `../shared/fixtures` (or `$OUROMAMBA_FIXTURES`) for golden tests.
///
/// Tests that need fixtures carry the condition trait
/// `.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)")`: without the folder they are
/// skipped with that reason, except under `CI=true`, where they run and fail at their lookup
/// (`try #require(Fixtures.path(…))`).
public enum Fixtures {
    /// The fixture folder, or nil when absent.
    public static let directory: URL? = {
        if let env = ProcessInfo.processInfo.environment["OUROMAMBA_FIXTURES"] {
            let u = URL(fileURLWithPath: env)
            return FileManager.default.fileExists(atPath: u.path) ? u : nil
        }
        // Sources/OuroTestSupport/Fixtures.swift → package root → ../shared/fixtures
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let u = root.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }()

    /// The package root (for models/ and docs/).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Path of a fixture file; nil (with a loud message) when the folder is missing.
    public static func path(_ name: String) -> String? {
        guard let d = directory else {
            FileHandle.standardError.write(Data("MISSING \(name): \(missingReason)\n".utf8))
            return nil
        }
        return d.appendingPathComponent(name).path
    }

    /// True when the fixture folder exists.
    public static var available: Bool { directory != nil }

    /// True under `CI=true`: there, missing fixtures fail the run instead of skipping tests.
    public static var requiredByCI: Bool { TestEnvironment.isCI }

    /// The condition of fixture tests: the fixtures are here, or CI requires them (the test then
    /// runs and fails at its fixture lookup).
    public static var enabled: Bool { available || requiredByCI }

    /// Why fixture tests are skipped.
    public static let missingReason = "fixture folder ../shared/fixtures not found (set OUROMAMBA_FIXTURES)"
}
