import Foundation

/// Locates `../shared/fixtures` (or `$OUROMAMBA_FIXTURES`) for golden tests.
public enum Fixtures {
    /// The fixture folder, or nil when absent (tests then skip loudly).
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
            FileHandle.standardError.write(Data("SKIPPING: fixture folder ../shared/fixtures not found (set OUROMAMBA_FIXTURES)\n".utf8))
            return nil
        }
        return d.appendingPathComponent(name).path
    }

    /// True when the fixture folder exists.
    public static var available: Bool { directory != nil }
}
