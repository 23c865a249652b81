import Foundation
import Logging

/// What the environment of a test run provides, as static conditions and reasons for the tests'
/// condition traits (`.enabled(if:_:)`): a test whose prerequisite is missing is skipped with a
/// stated reason, never passed silently. Under `CI=true` the fixtures, the `ouromamba` binary
/// and the Fashion-MNIST files of the CLI tests are required: those tests then run and fail.
public enum TestEnvironment {
    /// `CI=true`.
    public static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// A logger for tests: silent (critical only) unless `OURO_TEST_LOG` is set, then debug.
    public static func logger(_ label: String) -> Logger {
        var l = Logger(label: label)
        l.logLevel = ProcessInfo.processInfo.environment["OURO_TEST_LOG"] == nil ? .critical : .debug
        return l
    }

    /// True when the opt-in variable `name` is set to "1" (benchmarks, timing runs).
    public static func optedIn(_ name: String) -> Bool { ProcessInfo.processInfo.environment[name] == "1" }

    /// The Fashion-MNIST test images file the CLI's default dataset reads (package dataset-fashion-mnist).
    public static let fashionMNISTTestImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

    /// The Fashion-MNIST files of the CLI tests are installed.
    public static var fashionMNISTAvailable: Bool { FileManager.default.fileExists(atPath: fashionMNISTTestImages) }

    /// Why Fashion-MNIST tests are skipped.
    public static let fashionMNISTMissingReason = "Fashion-MNIST not installed in /usr/share/datasets/fashion-mnist (dataset-fashion-mnist)"

    /// `/usr/bin/script` (util-linux), which runs a command on a pseudo-terminal.
    public static var scriptAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/script") }
}
