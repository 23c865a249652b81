/// Size limits enforced on every received message.
public struct WireLimits: Sendable, Equatable {
    /// Largest whole message (all protocol frames together), default 1 GiB.
    public var maxMessageBytes: Int
    /// Largest metadata document, default 1 MiB.
    public var maxMetadataBytes: Int
    /// Largest number of binary frames in one message, default 4096.
    public var maxBinaryFrames: Int

    /// Creates limits (defaults: 1 GiB message, 1 MiB metadata, 4096 binary frames).
    public init(maxMessageBytes: Int = 1 << 30, maxMetadataBytes: Int = 1 << 20, maxBinaryFrames: Int = 4096) {
        self.maxMessageBytes = maxMessageBytes
        self.maxMetadataBytes = maxMetadataBytes
        self.maxBinaryFrames = maxBinaryFrames
    }

    /// Socket-level limits for a receiver: three protocol frames, the binary frames and, on a
    /// ROUTER, the routing id frame.
    var receiveLimits: ReceiveLimits {
        ReceiveLimits(maxFrames: maxBinaryFrames + 4, maxBytes: maxMessageBytes + 256)
    }
}
