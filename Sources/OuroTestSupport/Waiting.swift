import Foundation

/// Helpers of the tests that run threads and processes.
public enum TestFiles {
    /// A new empty folder under the temporary directory.
    public static func temporaryDirectory(_ prefix: String = "ouro-test") -> URL {
        let u = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// Polls `condition` every 10 ms for up to `timeout` seconds; its last value.
    public static func eventually(timeout: Double = 5, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }
}
