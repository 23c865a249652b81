import OuroCheckpoint
import OuroEngine

/// Reads golden tensors from a fixture file.
public struct Golden {
    public let file: SafeTensorsFile

    /// Opens a fixture; nil (with a loud message) when the fixture folder is absent: tests
    /// `try #require` it under the `Fixtures.enabled` condition.
    public static func open(_ name: String) throws -> Golden? {
        guard let p = Fixtures.path(name) else { return nil }
        return Golden(file: try SafeTensorsFile.read(path: p))
    }

    /// A float tensor.
    public func tensor(_ name: String) throws -> Tensor {
        let t = try file.tensor(name)
        return Tensor(shape: t.shape, data: try t.floats())
    }

    /// An int32 tensor.
    public func ints(_ name: String) throws -> [Int32] { try file.tensor(name).int32s() }
}
