import OuroSupport
import Foundation

/// A validated safetensors file: 8-byte little-endian header length N, N bytes of JSON header,
/// then the raw data section. The file is memory-mapped; tensors are copied out on request.
public struct SafeTensorsFile {
    /// Where a tensor lives in the data section.
    struct Entry {
        let dtype: DType
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    /// The path the file was read from.
    public let path: String
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    /// Tensor names in data-offset order.
    public let names: [String]
    private let entries: [String: Entry]
    private let view: ByteView
    private let dataStart: Int

    /// Largest header accepted; real headers are kilobytes, this guards against absurd lengths.
    public static let maxHeaderBytes = 100 << 20

    /// Reads and validates the header of the safetensors file at `path`.
    public static func read(path: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(view: ByteView.open(path))
    }

    private init(view: ByteView) throws {
        let file = view.file
        let n64 = try view.u64(0, "header length")
        guard n64 <= UInt64(Self.maxHeaderBytes), Int(n64) <= view.count - 8 else {
            throw CheckpointError(file: file, key: "header length",
                                  "header of \(n64) bytes does not fit a \(view.count)-byte file (limit \(Self.maxHeaderBytes))")
        }
        let n = Int(n64)
        let json: JSONValue
        do {
            json = try JSONParser.parse(try view.bytes(8, n, "header"))
        } catch let e as CheckpointError {
            throw e
        } catch {
            throw CheckpointError(file: file, key: "header", "\(error)")
        }
        guard case .object(let items) = json else {
            throw CheckpointError(file: file, key: "header", "expected a JSON object, found \(json.typeName)")
        }
        let dataStart = 8 + n
        let dataSize = view.count - dataStart
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        var order: [(name: String, entry: Entry)] = []
        for (key, value) in items {
            if key == "__metadata__" {
                metadata = try Self.parseMetadata(value, file: file)
                continue
            }
            let e = try Self.parseEntry(key, value, file: file, dataSize: dataSize)
            entries[key] = e
            order.append((key, e))
        }
        order.sort { ($0.entry.begin, $0.entry.end, $0.name) < ($1.entry.begin, $1.entry.end, $1.name) }
        // Sorted by start: any overlap shows between a non-empty tensor and the next ones.
        var reach = 0
        var reachName = ""
        for (name, e) in order where e.end > e.begin {
            guard e.begin >= reach else {
                throw CheckpointError(file: file, key: name,
                                      "data_offsets [\(e.begin), \(e.end)] overlap tensor '\(reachName)' (which ends at \(reach))")
            }
            reach = e.end
            reachName = name
        }
        self.path = file
        self.metadata = metadata
        self.names = order.map(\.name)
        self.entries = entries
        self.view = view
        self.dataStart = dataStart
    }

    private static func parseMetadata(_ value: JSONValue, file: String) throws -> [String: String] {
        guard case .object(let kv) = value else {
            throw CheckpointError(file: file, key: "__metadata__", "expected an object of strings, found \(value.typeName)")
        }
        var out: [String: String] = [:]
        for (k, v) in kv {
            guard case .string(let s) = v else {
                throw CheckpointError(file: file, key: "__metadata__.\(k)", "expected a string, found \(v.typeName)")
            }
            out[k] = s
        }
        return out
    }

    private static func parseEntry(_ name: String, _ value: JSONValue, file: String, dataSize: Int) throws -> Entry {
        func fail(_ m: String) -> CheckpointError { CheckpointError(file: file, key: name, m) }
        guard case .object(let fields) = value else { throw fail("expected an object with dtype, shape and data_offsets, found \(value.typeName)") }
        var dtypeV: JSONValue?, shapeV: JSONValue?, offV: JSONValue?
        for (k, v) in fields {
            switch k {
            case "dtype": dtypeV = v
            case "shape": shapeV = v
            case "data_offsets": offV = v
            default: throw fail("unexpected field '\(k)' (expected dtype, shape, data_offsets)")
            }
        }
        guard case .string(let ds)? = dtypeV else { throw fail("missing or non-string 'dtype'") }
        guard let dtype = DType(rawValue: ds) else {
            throw fail("unsupported dtype '\(ds)' (expected one of \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard case .array(let dims)? = shapeV else { throw fail("missing or non-array 'shape'") }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let v) = d, v >= 0, let iv = Int(exactly: v) else { throw fail("'shape' must hold non-negative integers") }
            shape.append(iv)
        }
        guard case .array(let offs)? = offV, offs.count == 2,
              case .int(let b64) = offs[0], case .int(let e64) = offs[1] else {
            throw fail("'data_offsets' must be an array of two integers")
        }
        guard b64 >= 0, b64 <= e64 else { throw fail("data_offsets [\(b64), \(e64)] must satisfy 0 <= begin <= end") }
        guard e64 <= dataSize else {
            throw fail("data_offsets end \(e64) is past the end of the \(dataSize)-byte data section (truncated file?)")
        }
        guard let numel = StoredTensor.elementCount(shape) else { throw fail("shape \(shape) overflows") }
        let (bytes, o) = numel.multipliedReportingOverflow(by: dtype.byteSize)
        guard !o, Int64(bytes) == e64 - b64 else {
            throw fail("data_offsets [\(b64), \(e64)] span \(e64 - b64) bytes but \(dtype.rawValue) \(shape) needs \(numel) × \(dtype.byteSize)")
        }
        return Entry(dtype: dtype, shape: shape, begin: Int(b64), end: Int(e64))
    }

    /// True when the file holds a tensor called `name`.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// Shape of tensor `name`, or nil when absent.
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// Element type of tensor `name`, or nil when absent.
    public func dtype(of name: String) -> DType? { entries[name]?.dtype }

    /// A copy of tensor `name`; throws when the name is missing.
    public func tensor(_ name: String) throws -> StoredTensor {
        guard let e = entries[name] else {
            throw CheckpointError(file: path, key: name, "no such tensor (the file has \(names.count) tensors)")
        }
        let bytes = try view.bytes(dataStart + e.begin, e.end - e.begin, name)
        return try StoredTensor(dtype: e.dtype, shape: e.shape, bytes: bytes, file: path, name: name)
    }

    /// Every tensor, in data-offset order.
    public func allTensors() throws -> [(name: String, tensor: StoredTensor)] {
        try names.map { ($0, try tensor($0)) }
    }
}
