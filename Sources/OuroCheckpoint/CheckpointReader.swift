import Foundation

/// Format-independent entry point for loading model weights.
public enum CheckpointReader {
    /// The file formats `loadStateDict` recognises.
    public enum Format: Sendable { case torchZip, safetensors }

    /// Detects the format from the first bytes: a zip local header (`PK\x03\x04`) means a
    /// `torch.save` archive, anything else is read as safetensors.
    public static func format(path: String) throws -> Format {
        guard let h = FileHandle(forReadingAtPath: path) else {
            throw CheckpointError(file: path, "cannot open file")
        }
        defer { try? h.close() }
        let magic = [UInt8]((try? h.read(upToCount: 4)) ?? Data())
        return magic == [0x50, 0x4B, 0x03, 0x04] ? .torchZip : .safetensors
    }

    /// The weights of a checkpoint in file order: `checkpoint[key]` of a torch zip (or the
    /// top level when it is the state dict itself), or every tensor of a safetensors file
    /// (in data-offset order; `key` is not used).
    public static func loadStateDict(path: String, key: String = "model") throws -> [(name: String, tensor: StoredTensor)] {
        switch try format(path: path) {
        case .torchZip: return try TorchCheckpoint.read(path: path).stateDict(key: key)
        case .safetensors: return try SafeTensorsFile.read(path: path).allTensors()
        }
    }
}
