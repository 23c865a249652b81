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
