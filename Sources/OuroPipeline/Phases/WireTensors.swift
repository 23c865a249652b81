import OuroCluster
import OuroSupport
import OuroCheckpoint
import OuroEngine
import OuroQuant

/// A named little-endian tensor carried as one binary frame (never as JSON numbers).
public struct WireTensor: Sendable {
    /// Name, unique within a message.
    public var name: String
    /// Element type.
    public var dtype: DType
    /// Shape (its product times the element size is the frame size).
    public var shape: [Int]
    /// The bytes.
    public var frame: Frame

    /// Wraps a frame.
    public init(name: String, dtype: DType, shape: [Int], frame: Frame) {
        self.name = name; self.dtype = dtype; self.shape = shape; self.frame = frame
    }

    /// A float32 tensor from an engine tensor (one copy, no per-element loop).
    public init(name: String, tensor: Tensor) {
        self.init(name: name, dtype: .f32, shape: tensor.shape, frame: Frame(copyingElementsOf: tensor.data))
    }

    /// A float32 vector.
    public init(name: String, floats: [Float]) {
        self.init(name: name, dtype: .f32, shape: [floats.count], frame: Frame(copyingElementsOf: floats))
    }

    /// A float64 vector.
    public init(name: String, doubles: [Double]) {
        self.init(name: name, dtype: .f64, shape: [doubles.count], frame: Frame(copyingElementsOf: doubles))
    }

    /// An int32 vector.
    public init(name: String, ints: [Int32]) {
        self.init(name: name, dtype: .i32, shape: [ints.count], frame: Frame(copyingElementsOf: ints))
    }

    /// An OuroQuant statistics tensor.
    public init(_ e: EncodedTensor) {
        self.init(name: e.name, dtype: e.dtype, shape: e.shape, frame: Frame(e.bytes))
    }

    /// Back to an OuroQuant statistics tensor.
    public var encoded: EncodedTensor {
        EncodedTensor(name: name, dtype: dtype, shape: shape, bytes: frame.bytes)
    }

    /// Element count.
    public var count: Int { shape.reduce(1, *) }
}

/// Errors of the job layer: malformed or inconsistent task inputs and results, failed merges.
public struct JobError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the task or phase.
    public var description: String
    /// Creates an error.
    public init(_ message: String) { description = message }
}

/// Named tensors ⇄ (metadata array, binary frames). The metadata lists `{name, dtype, shape}`
/// per frame, in frame order; decoding checks every size before any byte is interpreted.
public enum WireTensors {
    /// The metadata key holding the tensor list.
    public static let key = "tensors"

    /// Metadata entry and frames for `tensors`.
    public static func encode(_ tensors: [WireTensor]) -> (JSONValue, [Frame]) {
        let list: [JSONValue] = tensors.map {
            .object(["name": .string($0.name), "dtype": .string($0.dtype.rawValue), "shape": .array($0.shape.map { .int($0) })])
        }
        return (.array(list), tensors.map(\.frame))
    }

    /// Validates and decodes; `source` names the task in errors.
    public static func decode(_ meta: JSONValue?, frames: [Frame], source: String) throws -> [WireTensor] {
        guard let list = meta?.arrayValue else { throw JobError("\(source): metadata has no '\(key)' list") }
        guard list.count == frames.count else {
            throw JobError("\(source): \(list.count) tensors declared, \(frames.count) frames received")
        }
        var seen = Set<String>()
        return try zip(list, frames).map { entry, frame in
            guard let name = entry["name"]?.stringValue, !name.isEmpty,
                  let dt = entry["dtype"]?.stringValue.flatMap(DType.init(rawValue:)),
                  let dims = entry["shape"]?.arrayValue?.map(\.intValue), dims.allSatisfy({ $0 != nil && $0! >= 0 }) else {
                throw JobError("\(source): malformed tensor entry \(entry)")
            }
            guard seen.insert(name).inserted else { throw JobError("\(source): tensor \(name) appears twice") }
            let shape = dims.map { $0! }
            let (n, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, n.multipliedReportingOverflow(by: dt.byteSize) == (frame.count, false) else {
                throw JobError("\(source): tensor \(name) \(dt.rawValue)\(shape) needs a different size than its \(frame.count)-byte frame")
            }
            return WireTensor(name: name, dtype: dt, shape: shape, frame: frame)
        }
    }

    /// The tensors by name, for lookups.
    public static func byName(_ tensors: [WireTensor]) -> [String: WireTensor] {
        Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) })
    }
}

extension WireTensor {
    /// Checked float32 values; non-finite values are an error (cluster.md §6: reject NaN/Inf before merging).
    func finiteFloats(_ source: String, shape expected: [Int]? = nil) throws -> [Float] {
        try check(.f32, expected, source)
        guard let v = frame.elements(as: Float.self) else { throw JobError("\(source): \(name) is not float32") }
        if let i = v.firstIndex(where: { !$0.isFinite }) { throw JobError("\(source): \(name) has a non-finite value at index \(i)") }
        return v
    }

    /// Checked float64 values (finite).
    func finiteDoubles(_ source: String, count: Int? = nil) throws -> [Double] {
        try check(.f64, count.map { [$0] }, source)
        guard let v = frame.elements(as: Double.self) else { throw JobError("\(source): \(name) is not float64") }
        if let i = v.firstIndex(where: { !$0.isFinite }) { throw JobError("\(source): \(name) has a non-finite value at index \(i)") }
        return v
    }

    /// Checked int32 values.
    func int32s(_ source: String, count: Int? = nil) throws -> [Int32] {
        try check(.i32, count.map { [$0] }, source)
        guard let v = frame.elements(as: Int32.self) else { throw JobError("\(source): \(name) is not int32") }
        return v
    }

    private func check(_ dt: DType, _ expected: [Int]?, _ source: String) throws {
        guard dtype == dt else { throw JobError("\(source): \(name) is \(dtype.rawValue), expected \(dt.rawValue)") }
        if let expected, expected != shape { throw JobError("\(source): \(name) has shape \(shape), expected \(expected)") }
    }
}

extension Dictionary where Key == String, Value == WireTensor {
    /// The tensor called `name`, or an error naming `source`.
    func require(_ name: String, _ source: String) throws -> WireTensor {
        guard let t = self[name] else { throw JobError("\(source): missing tensor \(name)") }
        return t
    }
}
