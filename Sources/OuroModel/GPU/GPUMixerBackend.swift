import OuroEngine

/// The device backend of `MixerGraph` for one layer of one pass: buffers from `arena`, GEMMs
/// through the device's sgemm, every other op a `GPUOps` kernel, activation points offered to
/// the pass's observer.
final class GPUMixerBackend: MixerBackend {
    typealias Buffer = GPUBuffer
    let model: GPUVisionMamba
    let layer: Int
    let arena: GPUArena
    let observer: GPUVisionMamba.Observer?
    /// Scratch of the scan backward, shared by both directions.
    private var scanPartial: GPUBuffer?

    init(model: GPUVisionMamba, layer: Int, arena: GPUArena, observer: GPUVisionMamba.Observer?) {
        self.model = model; self.layer = layer; self.arena = arena; self.observer = observer
    }

    var config: VisionMambaConfig { model.config }
    private var device: GPUDevice { model.device }
    private var ops: GPUOps { model.ops }
    private var weights: GPUVisionMamba.Layer { model.layers[layer] }
    private func weights(_ dir: ScanDirection) -> GPUVisionMamba.Direction { model.layers[layer].dirs[dir.rawValue] }
    private var dims: (L: Int, E: Int, N: Int, R: Int, K: Int) { (config.seqLen, config.dInner, config.dState, config.dtRank, config.dConv) }

    private func address(_ o: Operand<GPUBuffer>) -> UInt64 { o.buffer.at(o.offset) }
    private func fetch(_ b: GPUBuffer, _ count: Int) throws -> [Float] { try device.download(b, floatOffset: 0, count: count) }

    private func weight(_ kind: LinearKind) -> GPUBuffer {
        switch kind {
        case .inProj: return weights.inProj
        case .outProj: return weights.outProj
        case .xProj(let d): return weights(d).xProj
        case .dtProj(let d): return weights(d).dtProj
        }
    }

    func floats(_ count: Int) throws -> GPUBuffer { try arena.floats(count) }
    func zeros(_ count: Int) throws -> GPUBuffer { try arena.zeros(count) }

    /// GPU observers never rewrite activations, so a linear reads its source directly.
    func linearInput(_ point: ActivationPoint, _ source: Operand<GPUBuffer>, channels: Int, batch: Int) throws -> Operand<GPUBuffer> {
        try observe(point, source, channels: channels, batch: batch)
        return source
    }

    func observe(_ point: ActivationPoint, _ source: Operand<GPUBuffer>, channels: Int, batch: Int) throws {
        guard let observer else { return }
        try model.offer(observer, point, layer: layer, source.buffer, offset: source.offset, ld: source.ld, channels: channels,
                        batch: batch, arena: arena)
    }

    func linear(_ kind: LinearKind, input: Operand<GPUBuffer>, inCols: Int, outCols: Int, rows: Int, batch: Int,
                output: Operand<GPUBuffer>) throws {
        try device.sgemm(transA: false, transB: true, m: rows, n: outCols, k: inCols, alpha: 1, a: address(input), lda: input.ld,
                         b: weight(kind).address, ldb: inCols, beta: 0, c: address(output), ldc: output.ld)
    }

    func convForward(_ dir: ScanDirection, xz: GPUBuffer, pre: GPUBuffer, xc: GPUBuffer, batch: Int) throws {
        let s = dims, w = weights(dir)
        try ops.convForward(batch: batch, length: s.L, channels: s.E, taps: s.K, x: xz.address, ldx: 2 * s.E, wT: w.convWT,
                            bias: w.convBias, reverse: dir == .backward, pre: pre, xc: xc)
    }

    /// One fused kernel; observing afterwards is equivalent because GPU observers never rewrite v.
    func biasSoftplus(_ dir: ScanDirection, v: GPUBuffer, delta: GPUBuffer, rows: Int, batch: Int,
                      observeOthers: () throws -> Void) throws {
        try ops.biasSoftplus(rows: rows, channels: config.dInner, v: v, bias: weights(dir).dtBias, delta: delta)
        try observe(ActivationPoint(.delta, dir), Operand(buffer: v, ld: config.dInner), channels: config.dInner, batch: batch)
        try observeOthers()
    }

    func scanForward(_ dir: ScanDirection, xc: GPUBuffer, delta: GPUBuffer, xdbl: GPUBuffer, y: GPUBuffer, batch: Int,
                     keepStates: Bool) throws -> GPUBuffer? {
        let s = dims, w = weights(dir)
        let states = keepStates ? try arena.floats(batch * s.L * s.N * s.E) : nil
        try ops.scanForward(shape: .init(batch: batch, length: s.L, channels: s.E, state: s.N), u: xc, delta: delta, a: w.a,
                            bc: xdbl, ld: s.R + 2 * s.N, bOffset: s.R, cOffset: s.R + s.N, d: w.d, reverse: dir == .backward,
                            y: y, states: states)
        return states
    }

    func gateForward(yForward: GPUBuffer, yBackward: GPUBuffer, xz: GPUBuffer, m: GPUBuffer, rows: Int) throws {
        let E = config.dInner
        try ops.gateForward(rows: rows, channels: E, y: yForward, z: xz.at(E), ldz: 2 * E, m: m, first: true)
        try ops.gateForward(rows: rows, channels: E, y: yBackward, z: xz.at(E), ldz: 2 * E, m: m, first: false)
    }

    func linearInputGradient(_ kind: LinearKind, gOut: Operand<GPUBuffer>, outCols: Int, inCols: Int, rows: Int,
                             into: Operand<GPUBuffer>, accumulate: Bool) throws {
        try device.sgemm(transA: false, transB: false, m: rows, n: inCols, k: outCols, alpha: 1, a: address(gOut), lda: gOut.ld,
                         b: weight(kind).address, ldb: inCols, beta: accumulate ? 1 : 0, c: address(into), ldc: into.ld)
    }

    func linearWeightGradient(gOut: Operand<GPUBuffer>, input: Operand<GPUBuffer>, outCols: Int, inCols: Int, rows: Int) throws -> [Float] {
        let g = try arena.floats(outCols * inCols)
        try device.sgemm(transA: true, transB: false, m: outCols, n: inCols, k: rows, alpha: 1, a: address(gOut), lda: gOut.ld,
                         b: address(input), ldb: input.ld, beta: 0, c: g.address, ldc: inCols)
        return try fetch(g, outCols * inCols)
    }

    func gateBackward(gm: GPUBuffer, y: GPUBuffer, xz: GPUBuffer, gy: GPUBuffer, gxz: GPUBuffer, rows: Int) throws {
        let E = config.dInner
        try ops.gateBackward(rows: rows, channels: E, gm: gm, y: y, z: xz.at(E), ldz: 2 * E, gy: gy, gz: gxz.at(E))
    }

    func scanBackward(_ dir: ScanDirection, _ di: DirectionTensors<GPUBuffer>, gy: GPUBuffer, extras ex: DirectionExtras<GPUBuffer>,
                      gu: GPUBuffer, gDelta: GPUBuffer, gxdbl: GPUBuffer, batch: Int, parameters: Bool) throws -> (aLog: [Float], d: [Float])? {
        let s = dims, w = weights(dir), rows = batch * s.L
        guard let states = di.states else { preconditionFailure("GPU mixer backward needs the forward states") }
        if scanPartial == nil { scanPartial = try arena.floats(4 * rows * s.N * s.E) }
        let gA = parameters ? try arena.floats(s.E * s.N) : nil, gD = parameters ? try arena.floats(s.E) : nil
        try ops.scanBackward(shape: .init(batch: batch, length: s.L, channels: s.E, state: s.N), u: di.xc, delta: di.delta, a: w.a,
                             bc: di.xdbl, ld: s.R + 2 * s.N, bOffset: s.R, cOffset: s.R + s.N, d: w.d, reverse: dir == .backward,
                             states: states, gy: gy, ghExt: ex.states, gu: gu, gDelta: gDelta, gbc: gxdbl, extraC: ex.c,
                             partial: scanPartial!, gA: gA, gD: gD)
        guard let gA, let gD else { return nil }
        // A = −exp(A_log) ⇒ ∂/∂A_log = ∂/∂A ⊙ A.
        let a = try fetch(w.a, s.E * s.N)
        return (zip(try fetch(gA, s.E * s.N), a).map { $0 * $1 }, try fetch(gD, s.E))
    }

    func softplusBackward(g: GPUBuffer, extra: GPUBuffer?, v: GPUBuffer, count: Int) throws {
        try ops.softplusBackward(count: count, g: g, extra: extra, v: v)
    }

    func siluBackward(g: GPUBuffer, pre: GPUBuffer, count: Int) throws {
        try ops.siluBackward(count: count, g: g, pre: pre)
    }

    func convBackward(_ dir: ScanDirection, gpre: GPUBuffer, xz: GPUBuffer, gxz: GPUBuffer, batch: Int,
                      parameters: Bool) throws -> (weight: [Float], bias: [Float])? {
        let s = dims, w = weights(dir), rev = dir == .backward
        var result: (weight: [Float], bias: [Float])?
        if parameters {
            let gwT = try arena.floats(s.K * s.E), gb = try arena.floats(s.E)
            try ops.convBackwardWeights(batch: batch, length: s.L, channels: s.E, taps: s.K, gpre: gpre, x: xz.address, ldx: 2 * s.E,
                                        reverse: rev, gwT: gwT, gb: gb)
            let t = try fetch(gwT, s.K * s.E)
            result = ((0..<(s.E * s.K)).map { t[($0 % s.K) * s.E + $0 / s.K] }, try fetch(gb, s.E))
        }
        try ops.convBackwardInput(batch: batch, length: s.L, channels: s.E, taps: s.K, gpre: gpre, wT: w.convWT,
                                  gx: gxz.address, ldgx: 2 * s.E, reverse: rev)
        return result
    }

    func columnSums(_ x: GPUBuffer, rows: Int, cols: Int) throws -> [Float] {
        let out = try arena.floats(cols)
        try ops.columnSums(rows: rows, cols: cols, x: x.address, ld: cols, out: out)
        return try fetch(out, cols)
    }
}
