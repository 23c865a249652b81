import COuroKernels
import Dispatch

/// Runs `body(i)` for `i in 0..<count` on up to `threads` workers.
///
/// Work items are handed out dynamically, but each item is a fixed block of output that is
/// computed the same way whichever worker takes it, so results never depend on `threads`.
func parallelBlocks(count: Int, threads: Int, _ body: (Int) -> Void) {
    if threads <= 1 || count <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    let next = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    next.initialize(to: 0)
    defer { next.deallocate() }
    DispatchQueue.concurrentPerform(iterations: min(threads, count)) { _ in
        while true {
            let i = Int(ouro_atomic_fetch_add(next, 1))
            if i >= count { break }
            body(i)
        }
    }
}
