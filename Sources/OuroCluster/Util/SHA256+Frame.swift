import OuroSupport

extension SHA256 {
    /// Hashes a frame's bytes without copying.
    public mutating func update(_ frame: Frame) { frame.withUnsafeBytes { update($0) } }
}
