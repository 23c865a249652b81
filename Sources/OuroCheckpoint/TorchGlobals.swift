/// What the parser does with pickle globals. Nothing is ever imported or called: a small
/// allowlist of torch/collections names is interpreted as data, and every other global turns
/// into an `.opaque` placeholder that remembers its name (REDUCE/NEWOBJ/BUILD on it give
/// another placeholder). Code that later needs such a value reports the global by name.
enum TorchGlobals {
    /// Storage classes understood in persistent ids, with their element type.
    static let storageTypes: [String: DType] = [
        "torch.FloatStorage": .f32, "torch.HalfStorage": .f16, "torch.BFloat16Storage": .bf16,
        "torch.DoubleStorage": .f64, "torch.LongStorage": .i64, "torch.IntStorage": .i32,
        "torch.ShortStorage": .i16, "torch.CharStorage": .i8, "torch.ByteStorage": .u8,
        "torch.BoolStorage": .bool,
    ]

    /// `module.name` with Python 2 module aliases folded in.
    static func fullName(_ module: String, _ name: String) -> String {
        (module == "__builtin__" ? "builtins" : module) + "." + name
    }

    /// REDUCE: `callee(*args)`, interpreted for allowlisted callees only.
    static func call(_ callee: PickleValue, _ args: PickleValue, _ heap: inout PickleHeap) -> PickleValue {
        let name: String
        switch callee {
        case .global(let m, let n): name = fullName(m, n)
        case .opaque, .invalid: return callee
        default: return .invalid("REDUCE called \(callee.kind), which is not callable")
        }
        guard let a = heap.sequence(args) else { return .invalid("REDUCE arguments for \(name) are not a tuple") }
        switch name {
        case "collections.OrderedDict", "builtins.dict":
            return makeDict(name, a, &heap)
        case "builtins.set", "builtins.frozenset":
            if a.isEmpty { return heap.set([]) }
            if a.count == 1, let items = heap.sequence(a[0]) { return heap.set(items) }
            if a.count == 1, case .set(let i) = a[0] { return heap.set(heap.sets[i]) }
            return .invalid("\(name) with unexpected arguments")
        case "torch._utils._rebuild_tensor_v2":
            return rebuildTensor(a, heap)
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            // Parameter(data, requires_grad, hooks[, state]): the data tensor is what matters.
            guard let first = a.first else { return .invalid("\(name) without arguments") }
            return first
        default:
            return .opaque(global: name)
        }
    }

    /// NEWOBJ / NEWOBJ_EX / INST / OBJ: `cls.__new__(cls, *args)`.
    static func newObject(_ cls: PickleValue, _ heap: inout PickleHeap) -> PickleValue {
        switch cls {
        case .global(let m, let n):
            let name = fullName(m, n)
            switch name {
            case "collections.OrderedDict", "builtins.dict": return heap.dict()
            case "builtins.set", "builtins.frozenset": return heap.set([])
            default: return .opaque(global: name)
            }
        case .opaque, .invalid: return cls
        default: return .invalid("NEWOBJ on \(cls.kind), which is not a class")
        }
    }

    private static func makeDict(_ name: String, _ a: [PickleValue], _ heap: inout PickleHeap) -> PickleValue {
        var d = PickleDict()
        if a.isEmpty { return heap.dict(d) }
        guard a.count == 1 else { return .invalid("\(name) with \(a.count) arguments") }
        if case .dict(let i) = a[0] { return heap.dict(heap.dicts[i]) }
        guard let pairs = heap.sequence(a[0]) else { return .invalid("\(name) of \(a[0].kind)") }
        for p in pairs {
            guard let kv = heap.sequence(p), kv.count == 2 else { return .invalid("\(name) item is not a pair") }
            d.set(kv[0], kv[1])
        }
        return heap.dict(d)
    }

    /// BINPERSID / PERSID: torch's `('storage', storage_class, key, location, numel)`.
    static func persistentLoad(_ pid: PickleValue, _ heap: PickleHeap) -> PickleValue {
        guard let t = heap.sequence(pid), t.count == 5, case .string("storage") = t[0] else {
            return .invalid("persistent id is not ('storage', class, key, location, numel)")
        }
        guard case .global(let m, let n) = t[1] else {
            return .invalid("storage class in persistent id is \(t[1].kind)")
        }
        let cls = fullName(m, n)
        guard let dtype = storageTypes[cls] else { return .opaque(global: cls) }
        guard case .string(let key) = t[2] else { return .invalid("storage key is \(t[2].kind), expected a string") }
        guard case .int(let numel) = t[4], numel >= 0, let count = Int(exactly: numel) else {
            return .invalid("storage '\(key)' element count is not a non-negative int")
        }
        return .storage(TorchStorageRef(dtype: dtype, key: key, numel: count))
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    private static func rebuildTensor(_ a: [PickleValue], _ heap: PickleHeap) -> PickleValue {
        guard a.count == 6 || a.count == 7 else {
            return .invalid("_rebuild_tensor_v2 with \(a.count) arguments, expected 6 or 7")
        }
        let storage: TorchStorageRef
        switch a[0] {
        case .storage(let s): storage = s
        case .opaque, .invalid: return a[0]
        default: return .invalid("_rebuild_tensor_v2 storage is \(a[0].kind)")
        }
        guard case .int(let off) = a[1], off >= 0, let offset = Int(exactly: off) else {
            return .invalid("_rebuild_tensor_v2 storage offset is not a non-negative int")
        }
        guard let shape = ints(a[2], heap), let stride = ints(a[3], heap), shape.count == stride.count else {
            return .invalid("_rebuild_tensor_v2 size/stride are not int tuples of equal length")
        }
        return .tensor(TorchTensorRef(storage: storage, offset: offset, shape: shape, stride: stride))
    }

    private static func ints(_ v: PickleValue, _ heap: PickleHeap) -> [Int]? {
        guard let items = heap.sequence(v) else { return nil }
        var out: [Int] = []
        for x in items {
            guard case .int(let i) = x, let n = Int(exactly: i) else { return nil }
            out.append(n)
        }
        return out
    }
}
