/// Loads/stores of up to 8 lanes, so kernels handle channel counts that are not multiples of 8.
@usableFromInline typealias V8 = SIMD8<Float>

@inline(__always) @usableFromInline
func load(_ p: UnsafePointer<Float>, _ w: Int) -> V8 {
    if w == 8 { return UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
    var v = V8(repeating: 0)
    for j in 0..<w { v[j] = p[j] }
    return v
}

@inline(__always) @usableFromInline
func load(_ p: UnsafeMutablePointer<Float>, _ w: Int) -> V8 { load(UnsafePointer(p), w) }

@inline(__always) @usableFromInline
func store(_ p: UnsafeMutablePointer<Float>, _ v: V8, _ w: Int) {
    if w == 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self); return }
    for j in 0..<w { p[j] = v[j] }
}

/// A small heap buffer of SIMD8 values accessed with unaligned loads and stores.
@usableFromInline
struct SIMDScratch {
    let base: UnsafeMutablePointer<Float>
    @inline(__always) init(vectors: Int) { base = .allocate(capacity: max(1, vectors) * 8) }
    @inline(__always) private init(base: UnsafeMutablePointer<Float>) { self.base = base }
    @inline(__always) func offset(_ vectors: Int) -> SIMDScratch { SIMDScratch(base: base + vectors * 8) }
    @inline(__always) func free() { base.deallocate() }
    @inline(__always) subscript(_ i: Int) -> V8 {
        get { UnsafeRawPointer(base + i * 8).loadUnaligned(as: V8.self) }
        nonmutating set { UnsafeMutableRawPointer(base + i * 8).storeBytes(of: newValue, as: V8.self) }
    }
}
