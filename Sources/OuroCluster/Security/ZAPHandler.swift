import OuroSupport
import Foundation
import Logging

/// A ZAP (RFC 27) handler on `inproc://zeromq.zap.01` that admits CURVE clients whose public
/// key is on an allowlist and rejects (and logs and counts) everyone else.
///
/// It must be started on the same context as the secured socket, before that socket binds.
final class ZAPHandler: Sendable {
    static let endpoint = "inproc://zeromq.zap.01"
    static let domain = "ouromamba"

    /// `nonisolated(unsafe)`: used by the handler's thread alone; `stop` closes it only after
    /// that thread has finished.
    nonisolated(unsafe) private let socket: ZMQSocket
    private let allowed: Set<String>
    private let logger: Logger
    private let state = Locked((stop: false, accepted: 0, rejected: 0))
    private let thread = Locked<ThreadHandle?>(nil)

    init(context: ZMQContext, allowed: Set<String>, logger: Logger) throws {
        socket = try ZMQSocket(context: context, kind: .rep)
        try socket.bind(ZAPHandler.endpoint)
        self.allowed = allowed
        self.logger = logger
        thread.withLock { $0 = ThreadHandle(name: "ouro-zap") { [self] in self.loop() } }
    }

    /// (accepted, rejected) handshakes so far.
    var counts: (accepted: Int, rejected: Int) { state.withLock { ($0.accepted, $0.rejected) } }

    /// Stops the thread and closes the socket.
    /// Returns whether the socket is closed (false when the thread did not stop in time).
    @discardableResult
    func stop() -> Bool {
        state.withLock { $0.stop = true }
        let running = thread.withLock { (t: inout ThreadHandle?) -> ThreadHandle? in
            defer { t = nil }
            return t
        }
        let stopped = running?.join(timeout: 5) != false
        if stopped { socket.close() }
        return stopped
    }

    private func loop() {
        let limits = ReceiveLimits(maxFrames: 16, maxBytes: 64 * 1024)
        while !state.withLock({ $0.stop }) {
            guard let ready = try? Poller.pollIn([.socket(socket)], timeoutMs: 50) else { break }
            guard ready[0] else { continue }
            do {
                let request = try socket.receive(limits: limits, dontWait: true)
                try socket.send(reply(to: request))
            } catch let e as ZMQError where e.wouldBlock {
                continue
            } catch let e as ZMQError where e.contextTerminated {
                break
            } catch {
                // An oversized or broken request: the REP socket needs a reply to stay usable.
                logger.warning("ZAP: malformed request rejected: \(error)")
                try? socket.send([Frame("1.0"), Frame(), Frame("500"), Frame("malformed ZAP request"), Frame(), Frame()])
            }
        }
        socket.close()
    }

    /// Builds the reply: version, request id, status code, status text, user id, metadata.
    private func reply(to r: [Frame]) -> [Frame] {
        func answer(_ code: String, _ text: String, user: String = "") -> [Frame] {
            [Frame("1.0"), r.count > 1 ? r[1] : Frame(), Frame(code), Frame(text), Frame(user), Frame()]
        }
        guard r.count >= 6, r[0].string == "1.0" else { return answer("500", "bad ZAP request") }
        let address = r[3].string ?? "?"
        let mechanism = r[5].string ?? "?"
        guard mechanism == "CURVE", r.count >= 7, let key = KeyPair.z85(r[6].bytes) else {
            state.withLock { $0.rejected += 1 }
            logger.warning("rejected peer \(address): mechanism \(mechanism) is not CURVE")
            return answer("400", "CURVE required")
        }
        guard allowed.contains(key) else {
            state.withLock { $0.rejected += 1 }
            logger.warning("rejected CURVE client \(key) from \(address): key not in the allowlist")
            return answer("400", "key not allowed")
        }
        state.withLock { $0.accepted += 1 }
        logger.info("accepted CURVE client \(key) from \(address)")
        return answer("200", "OK", user: key)
    }
}
