/// Turns a strided torch tensor view into a contiguous float32 `StoredTensor`, reading its
/// storage from the zip with full bounds checks (offset and strides are in elements).
struct TorchTensorMaterializer {
    let zip: ZipArchive
    /// Folder that holds `data.pkl` and `data/` ("" when at the archive root).
    let root: String

    /// Storage keys whose CRC-32 was already verified during this load.
    private var verified: Set<String> = []

    /// Largest view allowed to exceed its storage's element count (stride-0 broadcasts).
    static let maxBroadcastElements = 1 << 24

    init(zip: ZipArchive, root: String) {
        self.zip = zip
        self.root = root
    }

    mutating func materialize(_ t: TorchTensorRef, name: String) throws -> StoredTensor {
        let file = zip.file
        func fail(_ m: String) -> CheckpointError { CheckpointError(file: file, key: name, m) }
        let s = t.storage
        guard s.dtype == .f32 || s.dtype == .f16 || s.dtype == .bf16 else {
            throw fail("tensor has dtype \(s.dtype.rawValue); weights must be float32, float16 or bfloat16")
        }
        let entryName = root + "data/" + s.key
        guard let entry = zip.entry(entryName) else { throw fail("storage entry '\(entryName)' is missing from the archive") }
        let esize = s.dtype.byteSize
        guard s.numel.multipliedReportingOverflow(by: esize) == (entry.size, false) else {
            throw fail("storage '\(entryName)' holds \(entry.size) bytes, expected \(s.numel) × \(esize)")
        }
        guard t.shape.allSatisfy({ $0 >= 0 }), t.stride.allSatisfy({ $0 >= 0 }), let numel = StoredTensor.elementCount(t.shape) else {
            throw fail("size \(t.shape) / stride \(t.stride) must be non-negative and not overflow")
        }
        // Highest element the view touches; must lie inside the storage.
        if numel > 0 {
            var last = t.offset
            for (d, st) in Swift.zip(t.shape, t.stride) {
                let (m, o1) = (d - 1).multipliedReportingOverflow(by: st)
                let (sum, o2) = last.addingReportingOverflow(m)
                guard !o1, !o2 else { throw fail("stride \(t.stride) overflows") }
                last = sum
            }
            guard last < s.numel else {
                throw fail("view (offset \(t.offset), size \(t.shape), stride \(t.stride)) reaches element \(last) of a \(s.numel)-element storage")
            }
        } else if t.offset > s.numel {
            throw fail("storage offset \(t.offset) is past the \(s.numel)-element storage")
        }
        // Stride-0 views can name far more elements than the file holds; cap them so a
        // hostile file cannot make us allocate without bound.
        guard numel <= max(s.numel, Self.maxBroadcastElements) else {
            throw fail("view of \(numel) elements repeats a \(s.numel)-element storage beyond the \(Self.maxBroadcastElements)-element limit")
        }

        let check = !verified.contains(entryName)
        let gather = { (p: UnsafeRawBufferPointer) -> [Float] in
            Self.gather(p, dtype: s.dtype, offset: t.offset, shape: t.shape, stride: t.stride, count: numel)
        }
        let values = check ? try zip.withVerifiedBytes(entry, gather) : try zip.view.withBytes(entry.dataOffset, entry.size, entryName, gather)
        verified.insert(entryName)
        var bytes = [UInt8]()
        bytes.reserveCapacity(numel * 4)
        for v in values { bytes.appendLE(v.bitPattern) }
        return try StoredTensor(dtype: .f32, shape: t.shape, bytes: bytes, file: file, name: name)
    }

    /// Reads the view element by element (bounds were checked by the caller).
    private static func gather(_ p: UnsafeRawBufferPointer, dtype: DType, offset: Int, shape: [Int], stride: [Int], count: Int) -> [Float] {
        func load(_ e: Int) -> Float {
            switch dtype {
            case .f16: return Float(Float16(bitPattern: p.loadLE(UInt16.self, e * 2)))
            case .bf16: return Float(bitPattern: UInt32(p.loadLE(UInt16.self, e * 2)) << 16)
            default: return Float(bitPattern: p.loadLE(UInt32.self, e * 4))
            }
        }
        var out = [Float]()
        out.reserveCapacity(count)
        guard count > 0 else { return out }
        // Odometer over the index space, innermost dimension fastest.
        var index = [Int](repeating: 0, count: shape.count)
        var e = offset
        for _ in 0..<count {
            out.append(load(e))
            var d = shape.count - 1
            while d >= 0 {
                // Wrapping: a size-1 dimension may carry any stride; positions that are
                // actually loaded were bounds-checked by the caller.
                index[d] += 1
                e &+= stride[d]
                if index[d] < shape[d] { break }
                e &-= stride[d] &* shape[d]
                index[d] = 0
                d -= 1
            }
        }
        return out
    }
}
