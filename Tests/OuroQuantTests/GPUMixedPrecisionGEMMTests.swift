import Foundation
import OuroEngine
import OuroTestSupport
import Testing
import OuroSupport
@testable import OuroQuant

/// The GPU mixed-precision GEMM: host-side logic always; NVRTC compile check and GPU-vs-CPU
/// check when the CUDA libraries / a GPU are present (otherwise skipped with the reason).
@Suite("GPU mixed-precision GEMM") struct GPUMixedPrecisionGEMMTests {
    @Test func unpackInt4KnownValues() throws {
        // Row of 5 values, padded to 16 bytes: low nibble = even column.
        let q: [Int8] = [-8, 7, -1, 0, 3]
        var storage = [UInt8](repeating: 0, count: 16)
        storage[0] = 0x78        // col 0: 0x8 = -8, col 1: 0x7 = 7
        storage[1] = 0x0F        // col 2: 0xF = -1, col 3: 0
        storage[2] = 0x03        // col 4: 3
        #expect(GPUMixedPrecisionReference.unpackInt4(storage, rows: 1, cols: 5) == q)
    }

    @Test func unpackInt4MatchesPackedWeights() throws {
        var g = GEMMCase(seed: 3)
        for (N, K) in [(3, 1), (5, 33), (7, 100)] {
            let w = try g.weights(N: N, K: K, bits: 4)
            #expect(GPUMixedPrecisionReference.unpackInt4(w.storage, rows: N, cols: K) == w.int8Values(), "N \(N) K \(K)")
        }
    }

    @Test func outlierGroupsLayout() throws {
        let o = try GPUOutlierGroups(groups: [[5, 1], [], [2]], rows: 300, cols: 8)
        #expect(o.width == 16 && o.groupCount == 3)
        #expect(o.columns(ofGroup: 0) == [1, 5] && o.columns(ofGroup: 1) == [] && o.columns(ofGroup: 2) == [2])
        #expect(Array(o.indices[0..<3]) == [1, 5, -1])
        #expect(GPUOutlierGroups.none(rows: 10, cols: 4).width == 0)
        #expect(throws: IntGEMMError.self) { try GPUOutlierGroups(groups: [[8]], rows: 10, cols: 8) }
        #expect(throws: IntGEMMError.self) { try GPUOutlierGroups(groups: [[1], [2]], rows: 10, cols: 8) }
        let csr = try OutlierColumns(perRow: [[1], [3]] + Array(repeating: [], count: 127) + [[0]], cols: 4)
        let u = try GPUOutlierGroups(unionOf: csr)
        #expect(u.columns(ofGroup: 0) == [1, 3] && u.columns(ofGroup: 1) == [0])
    }

    /// The reference GEMM (Int32 sums, Double dequantization) against IntGEMMReference's Int64
    /// sums, and its outlier term against an explicit dense formulation.
    @Test func referenceGEMMMatchesDenseForm() throws {
        var g = GEMMCase(seed: 8)
        let M = 130, K = 32, N = 6
        let qW = g.ints(N * K, qmax: 7), sw = g.floats(N).map { abs($0) + 0.1 }
        let qI = g.ints(M * K, qmax: 127), sI = g.floats(M).map { abs($0) + 0.1 }
        let o = try GPUOutlierGroups(groups: [[3, 9], [0]], rows: M, cols: K)
        let qO = g.ints(M * o.width, qmax: 127), sO = g.floats(M).map { abs($0) + 0.1 }
        let y = GPUMixedPrecisionReference.gemm(qI: qI, qO: qO, sO: sO, rowRange: 0..<M, cols: K, sI: sI, qW: qW, sw: sw,
                                                outRange: 0..<N, outliers: o)
        let inner = IntGEMMReference.accumulate(a: qI, rows: M, weights: qW, outRows: N, cols: K)
        for t in 0..<M {
            let cols = o.columns(ofGroup: t / 128)
            for n in 0..<N {
                var so = 0.0
                for (j, c) in cols.enumerated() { so += Double(qO[t * o.width + j]) * Double(qW[n * K + c]) }
                let want = Double(sw[n]) * (Double(sI[t]) * Double(inner[t * N + n]) + Double(sO[t]) * so)
                #expect(abs(y[t * N + n] - want) <= 1e-9 * max(1, abs(want)))
            }
        }
    }

    /// The host quantizer: outlier columns are zero in qI and 8-bit in qO with s_O = max/127.
    @Test func referenceQuantizer() throws {
        let K = 8
        var x = [Float](repeating: 0.5, count: 2 * K)
        x[3] = 10; x[K + 3] = -20
        let o = try GPUOutlierGroups(groups: [[3]], rows: 2, cols: K)
        let r = GPUMixedPrecisionReference.quantize(x: x, rowRange: 0..<2, cols: K, inlierScales: [0.25, 0.5], inlierBits: 4, outliers: o)
        #expect(r.qI[0] == 2 && r.qI[3] == 0 && r.qI[K] == 1 && r.qI[K + 3] == 0)   // 0.5/0.5 = 1 (half-even of 1.0)
        #expect(r.sO == [10 / 127, 20 / 127])
        #expect(r.qO[0] == 127 && r.qO[o.width] == -127)
    }

    @Test(.enabled(if: GPUTestDevices.nvrtcAvailable, "\(GPUTestDevices.nvrtcMissingReason)"))
    func nvrtcCompilesForSM80AndSM90() throws {
        let nvrtc = try NVRTCCompiler()
        for arch in [80, 90] {
            let ptx = try nvrtc.ptx(GPUMixedPrecisionGEMM.module, arch: arch)
            let text = String(nulTerminated: ptx)
            for k in GPUMixedPrecisionGEMM.kernelNames { #expect(text.contains(".entry \(k)"), "arch \(arch): \(k)") }
            #expect(text.contains("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32"))
        }
    }

    /// GPU vs CPU reference on small odd shapes (partial row tiles, N not a multiple of 128,
    /// outliers and none), every tile, W4A8 and W4A4.
    @Test(.enabled(if: GPUTestDevices.cudaAvailable, "\(GPUTestDevices.cudaMissingReason)"))
    func gpuMatchesCPUReference() throws {
        let dev: CUDADevice = try GPUDevices.cuda()
        var g = GEMMCase(seed: 12)
        for (M, K, N, nOut) in [(200, 48, 40, 3), (300, 64, 264, 20), (129, 128, 8, 0)] {
            let qW = g.ints(N * K, qmax: 7)
            let sw = g.floats(N).map { 0.001 + 0.01 * abs($0) }
            let w = try GPUInt8Weights(device: dev, weights: try PackedWeights(int8: qW, rows: N, cols: K, bits: 4, rowScales: sw))
            let groups = (0..<((M + 127) / 128)).map { gi in Array(Set((0..<nOut).map { ($0 * 7 + gi * 3) % K })).sorted() }
            let o = try GPUOutlierGroups(groups: groups, rows: M, cols: K)
            var x = g.floats(M * K)
            for t in 0..<M { for c in groups[t / 128] { x[t * K + c] *= 20 } }
            let xb = try dev.upload(x)
            for bits in [8, 4] {
                let qmax = Float(bits == 4 ? 7 : 127)
                let sI = (0..<M).map { t in
                    max((0..<K).filter { !groups[t / 128].contains($0) }.map { abs(x[t * K + $0]) }.max() ?? 0, 1e-8) / qmax
                }
                let h = GPUMixedPrecisionReference.quantize(x: x, rowRange: 0..<M, cols: K, inlierScales: sI, inlierBits: bits, outliers: o)
                let ref = GPUMixedPrecisionReference.gemm(qI: h.qI, qO: h.qO, sO: h.sO, rowRange: 0..<M, cols: K, sI: sI,
                                                          qW: qW, sw: sw, outRange: 0..<N, outliers: o)
                for tile in GPUMixedPrecisionGEMM.Tile.allCases {
                    let gemm = try GPUMixedPrecisionGEMM(device: dev, tile: tile)
                    let act = try GPUQuantizedActivations(device: dev, outliers: o, inlierScales: sI)
                    try gemm.quantize(input: xb.address, half: false, into: act, inlierBits: bits)
                    let out = try dev.allocate(bytes: 2 * M * N)
                    try gemm.gemm(act, weights: w, out: out.address)
                    let d = try act.download(rows: M)
                    #expect(d.qI == h.qI && d.qO == h.qO && d.sO == h.sO, "quantizer \(M)x\(K) b\(bits) \(tile)")
                    var y = [UInt16](repeating: 0, count: M * N)
                    try y.withUnsafeMutableBytes { try dev.download(out, offset: 0, bytes: $0.count, to: $0.baseAddress!) }
                    let err = GPUMixedPrecisionReference.maxRelativeError(GPUMixedPrecisionReference.halfToFloat(y), ref)
                    #expect(err <= GPUGEMMBenchmark.tolerance, "\(M)x\(K)x\(N) b\(bits) \(tile): max rel error \(err)")
                }
            }
        }
    }
}
