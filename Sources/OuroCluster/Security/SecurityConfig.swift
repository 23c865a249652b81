import CZMQ

/// How the coordinator's socket is secured.
public enum CoordinatorSecurity: Sendable {
    /// No encryption or authentication: allowed only on loopback and ipc endpoints.
    case none
    /// CURVE with the server's key pair; only workers whose public key is in `allowedWorkers`
    /// pass the ZAP handler.
    case curve(server: KeyPair, allowedWorkers: Set<String>)
}

/// How a worker's socket is secured.
public enum WorkerSecurity: Sendable {
    /// No encryption.
    case none
    /// CURVE with the worker's own key pair and the coordinator's public key.
    case curve(client: KeyPair, serverPublicKey: String)
}

extension ZMQSocket {
    /// Applies coordinator-side security (call before `bind`).
    func applyServerSecurity(_ security: CoordinatorSecurity) throws {
        guard case .curve(let server, _) = security else { return }
        guard ZMQContext.has("curve") else { throw SecurityError.curveUnavailable }
        try setOption(ZMQ_ZAP_DOMAIN, string: ZAPHandler.domain)
        try setOption(ZMQ_CURVE_SERVER, 1)
        try setOption(ZMQ_CURVE_SECRETKEY, string: server.secretKey)
    }

    /// Applies worker-side security (call before `connect`).
    func applyClientSecurity(_ security: WorkerSecurity) throws {
        guard case .curve(let client, let serverKey) = security else { return }
        guard ZMQContext.has("curve") else { throw SecurityError.curveUnavailable }
        guard KeyPair.isValidKey(serverKey) else { throw SecurityError.invalidKey("server public key") }
        try setOption(ZMQ_CURVE_SERVERKEY, string: serverKey)
        try setOption(ZMQ_CURVE_PUBLICKEY, string: client.publicKey)
        try setOption(ZMQ_CURVE_SECRETKEY, string: client.secretKey)
    }
}
