/// A `torch.save` zip checkpoint, parsed without executing its pickle.
///
/// Only what is reachable from the requested state dict is interpreted: other entries (an
/// `argparse.Namespace`, optimizer state, scheduler objects) may use any global and are skipped.
/// A needed value built from a global outside the allowlist is an error naming that global.
public struct TorchCheckpoint {
    /// The path the checkpoint was read from.
    public let path: String
    private let zip: ZipArchive
    private let root: String
    private let pickle: PickleParser.Result

    /// Reads the archive and parses `<root>/data.pkl`. Throws when the top-level object is not
    /// a dict (for example when it is built from a disallowed global).
    public static func read(path: String) throws -> TorchCheckpoint {
        let zip = try ZipArchive(view: ByteView.open(path))
        let candidates = zip.entries.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
        let fewestSlashes = candidates.map { $0.name.split(separator: "/", omittingEmptySubsequences: false).count }.min()
        let best = candidates.filter { $0.name.split(separator: "/", omittingEmptySubsequences: false).count == fewestSlashes }
        guard best.count == 1, let pkl = best.first else {
            throw CheckpointError(file: path, key: "data.pkl",
                                  best.isEmpty ? "archive has no data.pkl entry (not a torch.save checkpoint)"
                                               : "archive has several data.pkl entries: \(best.map(\.name))")
        }
        let root = String(pkl.name.dropLast("data.pkl".count))
        if let bo = zip.entry(root + "byteorder") {
            let order = String(decoding: try zip.read(bo), as: UTF8.self)
            guard order == "little" else {
                throw CheckpointError(file: path, key: bo.name, "storages are '\(order)'-endian; only little-endian is supported")
            }
        }
        let result = try PickleParser.parse(try zip.read(pkl), file: path, entry: pkl.name)
        let cp = TorchCheckpoint(path: path, zip: zip, root: root, pickle: result)
        _ = try cp.topDict()
        return cp
    }

    private func topDict() throws -> PickleDict {
        switch pickle.root {
        case .dict(let d): return pickle.heap.dicts[d]
        case .opaque(let g):
            throw CheckpointError(file: path, key: "top level", "checkpoint object uses the disallowed global \(g)")
        default:
            throw CheckpointError(file: path, key: "top level", "expected a dict, found \(pickle.root.kind)")
        }
    }

    /// String keys of the top-level dict, in pickle order (non-string keys are left out).
    public var topLevelKeys: [String] {
        guard let d = try? topDict() else { return [] }
        return d.keys.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
    }

    /// The state dict under `key`, in pickle (OrderedDict) order, every tensor converted to
    /// contiguous float32. When the top level has no such key but is itself a state dict (all
    /// values tensors, as `torch.save(model.state_dict())` writes), that dict is returned.
    public func stateDict(key: String = "model") throws -> [(name: String, tensor: StoredTensor)] {
        let top = try topDict()
        let dict: PickleDict
        if let v = top.value(forString: key) {
            dict = try stateDictValue(v, key: key)
        } else if top.count > 0, top.values.allSatisfy({ if case .tensor = $0 { return true } else { return false } }) {
            dict = top
        } else {
            throw CheckpointError(file: path, key: key,
                                  "no such top-level key (keys: \(topLevelKeys.joined(separator: ", ")))")
        }
        var mat = TorchTensorMaterializer(zip: zip, root: root)
        var out: [(name: String, tensor: StoredTensor)] = []
        out.reserveCapacity(dict.count)
        for (k, v) in zip2(dict.keys, dict.values) {
            guard case .string(let name) = k else {
                throw CheckpointError(file: path, key: key, "state dict key is \(k.kind), expected a string")
            }
            switch v {
            case .tensor(let t): out.append((name, try mat.materialize(t, name: name)))
            case .opaque(let g): throw CheckpointError(file: path, key: name, "value uses the disallowed global \(g)")
            default: throw CheckpointError(file: path, key: name, "expected a tensor, found \(v.kind)")
            }
        }
        return out
    }

    private func stateDictValue(_ v: PickleValue, key: String) throws -> PickleDict {
        switch v {
        case .dict(let d): return pickle.heap.dicts[d]
        case .opaque(let g): throw CheckpointError(file: path, key: key, "value uses the disallowed global \(g)")
        default: throw CheckpointError(file: path, key: key, "expected a state dict, found \(v.kind)")
        }
    }
}

private func zip2<A: Sequence, B: Sequence>(_ a: A, _ b: B) -> Zip2Sequence<A, B> { Swift.zip(a, b) }
