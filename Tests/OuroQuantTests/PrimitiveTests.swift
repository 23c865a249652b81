import Foundation
import OuroEngine
import Testing
import OuroQuant
import COuroKernels

@Suite("Quantizer primitives") struct PrimitiveTests {
    @Test("symmetric: round half to even, clamp after rounding")
    func symmetric() {
        #expect(Quantizer.symmetricLevel(0.5, scale: 1, qmax: 7) == 0)
        #expect(Quantizer.symmetricLevel(1.5, scale: 1, qmax: 7) == 2)
        #expect(Quantizer.symmetricLevel(2.5, scale: 1, qmax: 7) == 2)
        #expect(Quantizer.symmetricLevel(-2.5, scale: 1, qmax: 7) == -2)
        #expect(Quantizer.symmetric(100, scale: 0.5, qmax: 7) == 3.5)
        #expect(Quantizer.symmetric(-100, scale: 0.5, qmax: 127) == -63.5)
        #expect(Quantizer.qmax(bits: 4) == 7 && Quantizer.qmax(bits: 8) == 127 && Quantizer.levels(bits: 4) == 15)
    }

    @Test("asymmetric: zero point, saturation at 0 and 2^b − 1")
    func asymmetric() {
        // s = 0.1, z = 3: −1 → round(−10) + 3 = −7 → 0 → 0.1·(0 − 3).
        #expect(Quantizer.asymmetric(-1, scale: 0.1, zero: 3, levels: 15) == Float(0.1) * -3)
        #expect(Quantizer.asymmetric(5, scale: 0.1, zero: 3, levels: 15) == Float(0.1) * 12)
        #expect(Quantizer.asymmetric(0, scale: 0.1, zero: 3, levels: 15) == 0)
        // round(−lo/s) half to even: 2.5 → 2, 3.5 → 4; clamped to 0…15.
        #expect(Quantizer.zeroPoint(lo: -0.625, scale: 0.25, bits: 4) == 2)
        #expect(Quantizer.zeroPoint(lo: -0.875, scale: 0.25, bits: 4) == 4)
        #expect(Quantizer.zeroPoint(lo: -100, scale: 0.1, bits: 4) == 15)
    }

    @Test("candidate scales: formed in Double, rounded once, floors where method.md puts them")
    func candidates() {
        #expect(ClipCandidates.weight(maxAbs: 1, i: 50, count: 100, qmax: 7) == Float(0.5 / 7.0))
        #expect(ClipCandidates.weight(maxAbs: 0, i: 3, count: 100, qmax: 7) == Float(1e-8))
        #expect(ClipCandidates.symmetric(maxAbs: 2, i: 0, count: 100, qmax: 7) == Float(2.0 / 7.0))
        #expect(ClipCandidates.symmetric(maxAbs: 0, i: 0, count: 100, qmax: 7) == Float(1e-8 / 7.0))
        let a = ClipCandidates.asymmetric(lo: -1, hi: 3, i: 0, count: 100, bits: 4)
        #expect(a.scale == Float(4.0 / 15.0) && a.zero == 4) // −lo/s = 3.75 → 4
        // α = 100/200: lo_i = min(0, −1 + 2) = 0, hi_i = max(0, 3 − 2) = 1 (range keeps 0).
        let b = ClipCandidates.asymmetric(lo: -1, hi: 3, i: 100, count: 100, bits: 4)
        #expect(b.scale == Float(1.0 / 15.0) && b.zero == 0)
    }

    @Test("vectorised |d|^2.4 matches libm pow")
    func pow24() {
        var rng = Xoshiro256StarStar(seed: 3)
        var worst = 0.0
        for _ in 0..<20000 {
            let d = (rng.nextUniform() - 0.5) * pow(10, Double(rng.nextInt(below: 16)) - 10)
            let ref = pow(abs(d), 2.4)
            if ref > 0 { worst = max(worst, abs(LpError.pow24(d) - ref) / ref) }
        }
        #expect(worst < 1e-13, "relative error \(worst)")
        #expect(LpError.pow24(0) == 0 && LpError.pow24(-0.0) == 0)
        #expect(abs(LpError.pow24(-2) - pow(2, 2.4)) < 1e-14)
    }

    /// The C error sums of the activation search equal LpError's Swift sums bit for bit on every
    /// SIMD path: symmetric and asymmetric, odd and even group counts, zeros, tiny and large
    /// errors, values beyond the clipping range.
    @Test("C clipping-search sums are bit-identical to LpError", arguments: KernelPath.available.filter { $0 != .portable })
    func cErrorSums(path: KernelPath) {
        var rng = Xoshiro256StarStar(seed: 21)
        for count4 in [1, 2, 5, 8] {
            let rows = 3, stride = count4 * 4 + 8, candidates = 7
            var x = [Double](repeating: 0, count: rows * stride)
            for i in x.indices where rng.nextInt(below: 5) != 0 {
                x[i] = (rng.nextUniform() - 0.5) * pow(10, Double(rng.nextInt(below: 8)) - 4)
            }
            let scales = (0..<candidates).map { _ in Float(1e-3 + rng.nextUniform() * 0.4) }
            let zeros = (0..<candidates).map { _ in Int32(rng.nextInt(below: 16)) }
            for asymmetric in [false, true] {
                let top = asymmetric ? 15.0 : 7.0
                var got = [Double](repeating: .nan, count: candidates)
                x.withUnsafeBufferPointer { xp in
                    ouro_lp_error_sums(path.rawValue, xp.baseAddress!, Int32(rows), stride, Int32(count4), scales,
                                       asymmetric ? zeros : nil, Int32(candidates), top, &got)
                }
                let want: [Double] = (0..<candidates).map { i in
                    x.withUnsafeBufferPointer { xp in
                        let v = UnsafeRawPointer(xp.baseAddress!).assumingMemoryBound(to: SIMD4<Double>.self)
                        var acc = 0.0
                        for r in 0..<rows {
                            let row = v + r * stride / 4
                            acc += asymmetric
                                ? LpError.asymmetricSum(row, count4: count4, scale: Double(scales[i]), zero: Double(zeros[i]), levels: top)
                                : LpError.symmetricSum(row, count4: count4, scale: Double(scales[i]), qmax: top)
                        }
                        return acc
                    }
                }
                #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "\(path) count4=\(count4) asymmetric=\(asymmetric)")
            }
        }
    }

    @Test("weight search equals a scalar libm reference, ties to the smallest i")
    func weightSearch() {
        var rng = Xoshiro256StarStar(seed: 9)
        let rows = 6, cols = 37
        var w = rng.normals(rows * cols)
        for j in 0..<cols { w[5 * cols + j] = j == 0 ? 1 : 0 } // one non-zero: every i ≥ 8 is exact → i* = smallest exact
        for bits in [4, 8] {
            let m = QuantizedMatrix.quantize(w, rows: rows, cols: cols, bits: bits)
            let qmax = Double(Quantizer.qmax(bits: bits))
            for r in 0..<rows {
                let row = Array(w[(r * cols)..<((r + 1) * cols)])
                let mr = row.map { abs($0) }.max()!
                var best = Double.infinity, bi = 0
                for i in 1...100 {
                    let s = Double(Float(max(Double(mr) * Double(i) / 100 / qmax, 1e-8)))
                    let e = row.reduce(0.0) { acc, x in
                        let q = min(max((Double(x) / s).rounded(.toNearestOrEven), -qmax), qmax)
                        return acc + pow(abs(Double(x) - s * q), 2.4)
                    }
                    if e < best * (1 - 1e-12) { best = e; bi = i }
                }
                #expect(Int(m.istar[r]) == bi, "bits \(bits) row \(r): i* \(m.istar[r]) vs \(bi)")
            }
            #expect(m.dequantized()[5 * cols] == 1)
        }
    }

    @Test("settings parse bits, not levels")
    func settings() throws {
        #expect(try QuantSetting(parsing: "w4a4") == .w4a4)
        #expect(try QuantSetting(parsing: "w4a8").outlierBits == 16)
        let c = try QuantSetting(parsing: "w8a4o8")
        #expect(c.weightBits == 8 && c.inlierBits == 4 && c.outlierBits == 8)
        #expect(throws: QuantError.self) { try QuantSetting(parsing: "w4a256") }
        #expect(throws: QuantError.self) { try QuantSetting(parsing: "int4") }
        #expect(throws: QuantError.self) { try QuantMethod(parsing: "minmax") }
    }

}
