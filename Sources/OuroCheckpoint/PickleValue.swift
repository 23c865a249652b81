/// A value produced by the pickle parser. Containers are handles into a `PickleHeap`, so values
/// stay flat (no deep recursion on copy or destruction) and shared references behave as in
/// Python: a dict memoized before its items are set sees those items later.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer wider than 64 bits (only its byte length is kept).
    case bigInt(bytes: Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(Int)
    case list(Int)
    case dict(Int)
    case set(Int)
    /// A class or function reference (`module.name`), never resolved or imported.
    case global(module: String, name: String)
    /// An object built from a global outside the allowlist; records that global's name.
    case opaque(global: String)
    /// An allowlisted call whose arguments were not understood.
    case invalid(String)
    /// A torch storage from a persistent id.
    case storage(TorchStorageRef)
    /// A tensor view built by `torch._utils._rebuild_tensor_v2`.
    case tensor(TorchTensorRef)

    /// Short description for error messages.
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        case .set: return "a set"
        case .global(let m, let n): return "the global \(m).\(n)"
        case .opaque(let g): return "an object of the disallowed global \(g)"
        case .invalid(let why): return "an unreadable value (\(why))"
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        }
    }
}

/// A torch storage: raw elements of one dtype in the zip entry `<root>/data/<key>`.
struct TorchStorageRef {
    let dtype: DType
    let key: String
    let numel: Int
}

/// A strided view of a storage (offset and strides in elements).
struct TorchTensorRef {
    let storage: TorchStorageRef
    let offset: Int
    let shape: [Int]
    let stride: [Int]
}

/// Insertion-ordered dict; keys that are strings or ints are indexed so that a repeated key
/// replaces its value, as in Python.
struct PickleDict {
    enum IndexKey: Hashable { case string(String), int(Int64) }
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var index: [IndexKey: Int] = [:]

    var count: Int { keys.count }

    mutating func set(_ key: PickleValue, _ value: PickleValue) {
        let ik: IndexKey?
        switch key {
        case .string(let s): ik = .string(s)
        case .int(let i): ik = .int(i)
        case .bool(let b): ik = .int(b ? 1 : 0)
        default: ik = nil
        }
        if let ik, let at = index[ik] {
            values[at] = value
            return
        }
        if let ik { index[ik] = keys.count }
        keys.append(key)
        values.append(value)
    }

    func value(forString key: String) -> PickleValue? {
        index[.string(key)].map { values[$0] }
    }
}

/// Storage of every container a pickle built, addressed by the handles in `PickleValue`.
struct PickleHeap {
    var tuples: [[PickleValue]] = []
    var lists: [[PickleValue]] = []
    var dicts: [PickleDict] = []
    var sets: [[PickleValue]] = []

    mutating func tuple(_ items: [PickleValue]) -> PickleValue { tuples.append(items); return .tuple(tuples.count - 1) }
    mutating func list(_ items: [PickleValue]) -> PickleValue { lists.append(items); return .list(lists.count - 1) }
    mutating func dict(_ d: PickleDict = PickleDict()) -> PickleValue { dicts.append(d); return .dict(dicts.count - 1) }
    mutating func set(_ items: [PickleValue]) -> PickleValue { sets.append(items); return .set(sets.count - 1) }

    /// Items of a tuple or list (nil for anything else).
    func sequence(_ v: PickleValue) -> [PickleValue]? {
        switch v {
        case .tuple(let i): return tuples[i]
        case .list(let i): return lists[i]
        default: return nil
        }
    }
}
