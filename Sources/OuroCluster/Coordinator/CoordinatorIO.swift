import Foundation
import Logging

/// The coordinator's I/O thread: the only code that touches the ROUTER socket.
struct CoordinatorIO {
    let router: ZMQSocket
    let shared: SharedState
    let wakeup: Wakeup
    let limits: WireLimits
    let heartbeatInterval: Double
    let logger: Logger

    func run() {
        let pollMs = max(1, min(100, Int(heartbeatInterval * 1000 / 4)))
        while !shared.read({ $0.stopping }) {
            let ready: [Bool]
            do {
                ready = try Poller.pollIn([.socket(router), wakeup.target], timeoutMs: pollMs)
            } catch {
                logger.critical("coordinator poll failed: \(error)")
                break
            }
            if ready[1] { wakeup.drain() }
            if ready[0] { receiveBatch() }
            let out = shared.mutate { s -> [Outgoing] in
                s.state.tick(now: Clock.now())
                return s.state.takeOutbox()
            }
            send(out)
        }
        let farewell = shared.mutate { s -> [Outgoing] in
            s.state.disconnectAll(reason: "coordinator shutting down", now: Clock.now())
            return s.state.takeOutbox()
        }
        send(farewell)
        router.close(linger: 500)
    }

    /// Receives up to 256 queued messages without blocking.
    private func receiveBatch() {
        for _ in 0..<256 {
            let frames: [Frame]
            do {
                frames = try router.receive(limits: limits.receiveLimits, dontWait: true)
            } catch let e as ZMQError {
                if !e.wouldBlock { logger.error("receive failed: \(e)") }
                return
            } catch let e as OversizedMessage {
                let peer = e.firstFrame.map(PeerID.init)
                let out = shared.mutate { s -> [Outgoing] in
                    s.state.reject(peer, e, now: Clock.now())
                    return s.state.takeOutbox()
                }
                send(out)
                continue
            } catch {
                logger.error("receive failed: \(error)")
                return
            }
            handle(frames)
        }
    }

    private func handle(_ frames: [Frame]) {
        guard let first = frames.first else { return }
        let peer = PeerID(first)
        let out: [Outgoing]
        do {
            let message = try ProtocolMessage.decode(frames.dropFirst(), limits: limits)
            var checksumOK = true
            if case .result(let r) = message { checksumOK = r.isIntact }  // hashed outside the lock
            out = shared.mutate { s -> [Outgoing] in
                s.state.handle(message, from: peer, checksumOK: checksumOK, now: Clock.now())
                return s.state.takeOutbox()
            }
        } catch {
            out = shared.mutate { s -> [Outgoing] in
                s.state.reject(peer, error, now: Clock.now())
                return s.state.takeOutbox()
            }
        }
        send(out)
    }

    private func send(_ out: [Outgoing]) {
        for o in out {
            do {
                try router.send([o.peer.frame] + o.message.encode(), dontWait: true)
            } catch let e as ZMQError where e.hostUnreachable || e.wouldBlock {
                logger.warning("cannot send to \(o.peer): \(e)")
                let more = shared.mutate { s -> [Outgoing] in
                    s.state.peerUnreachable(o.peer, now: Clock.now())
                    return s.state.takeOutbox()
                }
                send(more)
            } catch {
                logger.error("send to \(o.peer) failed: \(error)")
            }
        }
    }
}
