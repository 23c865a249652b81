import OuroSupport
import Foundation
import Testing
@testable import OuroCluster

@Suite struct ZMQTests {
    /// Frames (one borrowed without copying, one large enough for the zero-copy path) survive a
    /// ROUTER/DEALER round trip over ipc, and the borrowed buffer's owner is released afterwards.
    @Test func multipartRoundTripAndZeroCopyOwnership() throws {
        final class Buffer {
            let pointer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
            let released: Locked<Bool>
            init(_ flag: Locked<Bool>) {
                released = flag
                for i in 0..<(1 << 20) { pointer.storeBytes(of: UInt8(truncatingIfNeeded: i &* 7), toByteOffset: i, as: UInt8.self) }
            }
            deinit {
                released.withLock { $0 = true }
                pointer.deallocate()
            }
        }
        let flag = Locked(false)
        let ctx = try ZMQContext()
        let router = try ZMQSocket(context: ctx, kind: .router)
        let endpoint = Harness.ipcEndpoint()
        try router.bind(endpoint)
        let dealer = try ZMQSocket(context: ctx, kind: .dealer)
        try dealer.setRoutingID(Array("dealer-1".utf8))
        try dealer.connect(endpoint)
        var expected: [UInt8] = []
        do {
            let buffer = Buffer(flag)
            expected = Array(UnsafeRawBufferPointer(start: buffer.pointer, count: 1 << 20))
            try dealer.send([Frame("hello"), Frame(borrowing: buffer.pointer, count: 1 << 20, owner: buffer), Frame()])
        }
        #expect(try Poller.pollIn([.socket(router)], timeoutMs: 5000) == [true])
        let got = try router.receive(limits: ReceiveLimits(maxFrames: 8, maxBytes: 2 << 20))
        #expect(got.count == 4)
        #expect(got[0].string == "dealer-1")
        #expect(got[1].string == "hello")
        #expect(got[2].bytes == expected)
        #expect(got[3].isEmpty)
        #expect(Harness.eventually { flag.current }, "libzmq must release the borrowed buffer's owner")

        // A message over the receive limits is drained and reported with its routing id.
        try dealer.send([Frame([UInt8](repeating: 1, count: 5000))])
        #expect(try Poller.pollIn([.socket(router)], timeoutMs: 5000) == [true])
        #expect(throws: OversizedMessage.self) { try router.receive(limits: ReceiveLimits(maxFrames: 8, maxBytes: 1000)) }
        #expect(throws: ZMQError.self) { try router.receive(limits: ReceiveLimits(maxFrames: 8, maxBytes: 1000), dontWait: true) }
    }

    @Test func errorsCarryStrerrorText() throws {
        let ctx = try ZMQContext()
        let s = try ZMQSocket(context: ctx, kind: .dealer)
        do {
            try s.bind("nonsense://x")
            Issue.record("bind to a bad endpoint succeeded")
        } catch let e as ZMQError {
            #expect(e.description.contains("zmq_bind nonsense://x"))
            #expect(!e.message.isEmpty)
        }
    }

    @Test func endpointClassification() {
        #expect(Endpoint.isLocal("tcp://127.0.0.1:5570"))
        #expect(Endpoint.isLocal("tcp://127.1.2.3:*"))
        #expect(Endpoint.isLocal("tcp://localhost:1"))
        #expect(Endpoint.isLocal("tcp://[::1]:5570"))
        #expect(Endpoint.isLocal("ipc:///tmp/x.ipc"))
        #expect(!Endpoint.isLocal("tcp://*:5570"))
        #expect(!Endpoint.isLocal("tcp://0.0.0.0:5570"))
        #expect(!Endpoint.isLocal("tcp://10.0.0.5:5570"))
        #expect(!Endpoint.isLocal("tcp://127.0.0.1.evil.com:1"))
    }

    @Test func backoffDoublesAndCaps() {
        var b = Backoff(initial: 1, maximum: 32)
        #expect((0..<8).map { _ in b.next() } == [1, 2, 4, 8, 16, 32, 32, 32])
        b.reset()
        #expect(b.next() == 1)
    }
}
