import OuroCheckpoint

/// A tensor ready for a safetensors file or a cluster message frame.
public struct EncodedTensor: Equatable, Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Little-endian element bytes.
    public let bytes: [UInt8]

    /// Wraps raw little-endian bytes (the cluster rebuilds tensors from message frames).
    public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
        self.name = name; self.dtype = dtype; self.shape = shape; self.bytes = bytes
    }

    public static func floats(_ name: String, _ v: [Float], shape: [Int]? = nil) -> EncodedTensor {
        var b = [UInt8](); b.reserveCapacity(v.count * 4)
        for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { b += $0 } }
        return EncodedTensor(name: name, dtype: .f32, shape: shape ?? [v.count], bytes: b)
    }
    public static func doubles(_ name: String, _ v: [Double], shape: [Int]? = nil) -> EncodedTensor {
        var b = [UInt8](); b.reserveCapacity(v.count * 8)
        for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { b += $0 } }
        return EncodedTensor(name: name, dtype: .f64, shape: shape ?? [v.count], bytes: b)
    }
    public static func ints(_ name: String, _ v: [Int32], shape: [Int]? = nil) -> EncodedTensor {
        var b = [UInt8](); b.reserveCapacity(v.count * 4)
        for x in v { withUnsafeBytes(of: x.littleEndian) { b += $0 } }
        return EncodedTensor(name: name, dtype: .i32, shape: shape ?? [v.count], bytes: b)
    }
    public static func longs(_ name: String, _ v: [Int64]) -> EncodedTensor {
        var b = [UInt8](); b.reserveCapacity(v.count * 8)
        for x in v { withUnsafeBytes(of: x.littleEndian) { b += $0 } }
        return EncodedTensor(name: name, dtype: .i64, shape: [v.count], bytes: b)
    }

    /// As a checkpoint tensor (for `SafeTensorsWriter.add(_:tensor:)`).
    public func stored() throws -> StoredTensor { try StoredTensor(dtype: dtype, shape: shape, bytes: bytes, name: name) }
}

/// Typed, checked reads of named tensors; every failure names the source and key.
public struct TensorReader {
    public let source: String
    public let tensors: [String: StoredTensor]
    /// Keys read so far (to reject unexpected extras).
    public private(set) var used: Set<String> = []

    public init(source: String, tensors: [String: StoredTensor]) { self.source = source; self.tensors = tensors }
    public init(source: String, encoded: [EncodedTensor]) throws {
        var d: [String: StoredTensor] = [:]
        for e in encoded {
            guard d[e.name] == nil else { throw QuantError(file: source, key: e.name, "appears twice") }
            d[e.name] = try StoredTensor(dtype: e.dtype, shape: e.shape, bytes: e.bytes, file: source, name: e.name)
        }
        self.init(source: source, tensors: d)
    }

    public func contains(_ key: String) -> Bool { tensors[key] != nil }

    private mutating func get(_ key: String, _ dtype: DType, count: Int?) throws -> StoredTensor {
        guard let t = tensors[key] else { throw QuantError(file: source, key: key, "missing") }
        guard t.dtype == dtype else { throw QuantError(file: source, key: key, "dtype \(t.dtype.rawValue), expected \(dtype.rawValue)") }
        if let count, t.count != count {
            throw QuantError(file: source, key: key, "\(t.count) elements (shape \(t.shape)), expected \(count)")
        }
        used.insert(key)
        return t
    }

    public mutating func floats(_ key: String, count: Int? = nil, finite: Bool = true) throws -> [Float] {
        let v = try get(key, .f32, count: count).floats()
        if finite, let i = v.firstIndex(where: { !$0.isFinite }) { throw QuantError(file: source, key: key, "non-finite value at index \(i)") }
        return v
    }
    public mutating func doubles(_ key: String, count: Int? = nil) throws -> [Double] {
        let t = try get(key, .f64, count: count)
        let v = (0..<t.count).map { i in Double(bitPattern: t.bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }) }
        if let i = v.firstIndex(where: { !$0.isFinite }) { throw QuantError(file: source, key: key, "non-finite value at index \(i)") }
        return v
    }
    public mutating func ints(_ key: String, count: Int? = nil) throws -> [Int32] { try get(key, .i32, count: count).int32s() }
    public mutating func longs(_ key: String, count: Int? = nil) throws -> [Int64] {
        let t = try get(key, .i64, count: count)
        return (0..<t.count).map { i in t.bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) } }
    }
    public mutating func raw(_ key: String, _ dtype: DType, shape: [Int]) throws -> [UInt8] {
        let t = try get(key, dtype, count: nil)
        guard t.shape == shape else { throw QuantError(file: source, key: key, "shape \(t.shape), expected \(shape)") }
        return t.bytes
    }
    /// One integer scalar.
    public mutating func int(_ key: String) throws -> Int { Int(try ints(key, count: 1)[0]) }

    /// Throws when a tensor was never read (an artifact or message with unexpected content).
    public func checkAllUsed() throws {
        if let extra = Set(tensors.keys).subtracting(used).sorted().first {
            throw QuantError(file: source, key: extra, "unexpected tensor (\(tensors.count - used.count) unexpected in all)")
        }
    }
}
