/// Classifies ZeroMQ endpoints.
public enum Endpoint {
    /// True for endpoints that never leave the machine: `ipc://`, `inproc://`, and `tcp://` on
    /// 127.0.0.0/8, `[::1]` or `localhost`. Anything else (including `tcp://*:port`) is remote.
    public static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        let rest = endpoint.dropFirst("tcp://".count)
        let host: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return false }
            host = rest[rest.index(after: rest.startIndex)..<close]
            return host == "::1"
        }
        host = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        if host == "localhost" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}
