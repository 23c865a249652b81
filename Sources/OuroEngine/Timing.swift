import Dispatch

/// Benchmark timing.
public enum Timing {
    /// Best-of-`repeats` wall times in seconds of each body, measured round-robin (every round
    /// times each body once, in order) after `warmup` untimed rounds, so that a slow spell of a
    /// shared machine hits all of them alike and their ratios stay meaningful.
    public static func bestSeconds(repeats: Int, warmup: Int = 1, _ bodies: [() throws -> Void]) throws -> [Double] {
        for _ in 0..<warmup { for body in bodies { try body() } }
        var best = [Double](repeating: .infinity, count: bodies.count)
        for _ in 0..<max(1, repeats) {
            for (i, body) in bodies.enumerated() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body()
                best[i] = min(best[i], Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
        }
        return best
    }
}
