import OuroCheckpoint

/// Tensor shapes of a checkpoint's state dict.
public enum OuroCheckpointShapes {
    public static func shapes(path: String) throws -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: try CheckpointReader.loadStateDict(path: path).map { ($0.name, $0.tensor.shape) })
    }
}
