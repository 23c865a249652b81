import Dispatch

/// Deterministic data parallelism over a fixed partition.
///
/// Work is cut into `count` items independent of the thread count, so every output is
/// computed by the same code in the same order however many threads run it. Inlinable, so
/// that the kernels of other modules get their loops specialized as before the move here.
public struct ParallelRunner: Sendable {
    /// Number of worker threads (1 = run inline).
    public var threads: Int

    @inlinable
    public init(threads: Int) { self.threads = max(1, threads) }

    /// Runs `body(i)` for i in 0..<count, spread over the threads.
    @inlinable
    public func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if threads == 1 || count == 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            // The items write disjoint outputs (the contract of this type), so the body may run
            // on several threads although its captures (pointers into those outputs) are not Sendable.
            nonisolated(unsafe) let body = body
            let workers = min(threads, count)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w
                while i < count { body(i); i += workers }
            }
        }
    }

    /// Runs `body(i)` for i in 0..<count, handing items to the threads as they become free.
    ///
    /// Use it for items of uneven cost. Each item must be a fixed piece of output computed the
    /// same way whichever thread takes it, so results still never depend on the thread count.
    @inlinable
    public func forEachDynamic(_ count: Int, _ body: (Int) -> Void) {
        if threads == 1 || count <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        // Items are coarse (row blocks, layers), so a locked counter costs nothing measurable.
        let next = Locked(0)
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: min(threads, count)) { _ in
                while true {
                    let i = next.withLock { (n: inout Int) -> Int in
                        defer { n += 1 }
                        return n
                    }
                    if i >= count { break }
                    body(i)
                }
            }
        }
    }

    /// Runs `body(range)` over `chunks` contiguous ranges of 0..<n (chunking independent of threads).
    @inlinable
    public func forEachChunk(_ n: Int, chunks: Int, _ body: (Range<Int>) -> Void) {
        let c = max(1, min(chunks, n))
        forEach(c) { i in
            let lo = n * i / c, hi = n * (i + 1) / c
            if lo < hi { body(lo..<hi) }
        }
    }
}
