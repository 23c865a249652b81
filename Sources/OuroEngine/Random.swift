/// Deterministic random numbers: SplitMix64 seeds xoshiro256**.
///
/// The generator is part of every data set's identity (`method.md` 3.1): changing it changes
/// the synthetic images, so its identifier is recorded in metadata.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    /// Identifier recorded in metadata next to every seed.
    public static let identifier = "splitmix64-xoshiro256starstar-boxmuller64"

    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Seeds the four state words from SplitMix64(seed).
    public init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
    }

    /// A stream for (seed, index): used for per-sample and per-block streams.
    public init(seed: UInt64, stream: UInt64) {
        var sm = SplitMix64(state: seed)
        let a = sm.next()
        var sm2 = SplitMix64(state: a ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        self.init(seed: sm2.next())
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normals by Box–Muller in Double, rounded to Float; produces pairs.
    public mutating func fillNormal(_ out: UnsafeMutableBufferPointer<Float>) {
        var i = 0
        while i < out.count {
            var u1 = nextUniform()
            if u1 < 1e-300 { u1 = 1e-300 }
            let u2 = nextUniform()
            let r = (-2.0 * _log(u1)).squareRoot()
            let th = 2.0 * Double.pi * u2
            out[i] = Float(r * _cos(th))
            if i + 1 < out.count { out[i + 1] = Float(r * _sin(th)) }
            i += 2
        }
    }

    /// Normals into a new array.
    public mutating func normals(_ count: Int) -> [Float] {
        var a = [Float](repeating: 0, count: count)
        a.withUnsafeMutableBufferPointer { fillNormal($0) }
        return a
    }

    /// Uniform integer in 0..<n (unbiased, by rejection).
    public mutating func nextInt(below n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let x = next()
            if x < limit { return Int(x % bound) }
        }
    }

    /// A seeded Fisher–Yates permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = nextInt(below: i + 1)
                p.swapAt(i, j)
            }
        }
        return p
    }
}

/// SplitMix64, used only to expand seeds.
public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
@inline(__always) func _sin(_ x: Double) -> Double { Glibc.sin(x) }
#else
import Darwin
@inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Darwin.cos(x) }
@inline(__always) func _sin(_ x: Double) -> Double { Darwin.sin(x) }
#endif
