import OuroEngine

/// A row-major matrix operand: rows `ld` floats apart, starting `offset` floats into `buffer`.
struct Operand<Buffer> {
    var buffer: Buffer
    var offset = 0
    var ld: Int
}

/// One direction's forward tensors on some backend ([batch, L, ·], original token order).
struct DirectionTensors<Buffer> {
    var pre, xc, xdbl, v, delta, y: Buffer
    var states: Buffer?
}

/// One mixer's forward tensors on some backend.
struct MixerTensors<Buffer> {
    var batch: Int
    var normed, xz, m, out: Buffer
    var dirs: [DirectionTensors<Buffer>]
}

/// Extra loss gradients on one direction's internals (states, C, post-softplus Δ).
struct DirectionExtras<Buffer> {
    var states: Buffer?, c: Buffer?, delta: Buffer?
}

/// The operations of one layer's bimamba-v2 mixer on one backend (host memory with OpenBLAS,
/// or a `GPUDevice`). A backend owns its buffers, the layer's weights and the math of each op;
/// `MixerGraph` alone says which op follows which, so the forward and backward graphs exist
/// once for every backend. Shapes come from `config`; `rows` = batch · L.
protocol MixerBackend {
    associatedtype Buffer
    var config: VisionMambaConfig { get }
    /// `count` floats, uninitialised / zero-filled.
    func floats(_ count: Int) throws -> Buffer
    func zeros(_ count: Int) throws -> Buffer
    /// Offers the input of a quantized linear to the backend's observers; returns what the
    /// linear reads (the source itself, or a copy that hooks may have rewritten).
    func linearInput(_ point: ActivationPoint, _ source: Operand<Buffer>, channels: Int, batch: Int) throws -> Operand<Buffer>
    /// Offers an activation that is consumed in place (Δ, B, C): hooks may rewrite it.
    func observe(_ point: ActivationPoint, _ source: Operand<Buffer>, channels: Int, batch: Int) throws
    /// output = input · Wᵀ for the layer's linear `kind` (W is outCols × inCols).
    func linear(_ kind: LinearKind, input: Operand<Buffer>, inCols: Int, outCols: Int, rows: Int, batch: Int,
                output: Operand<Buffer>) throws
    /// pre = conv(x half of xz) + bias, xc = SiLU(pre).
    func convForward(_ dir: ScanDirection, xz: Buffer, pre: Buffer, xc: Buffer, batch: Int) throws
    /// v += dt_bias; offers v to the observers as the point Δ of `dir` (they may rewrite it), then
    /// runs `observeOthers()` (B, C); Δ = softplus(v). Hooks may compute the softplus themselves
    /// (`ForwardHooks.deltaSoftplus`).
    func biasSoftplus(_ dir: ScanDirection, v: Buffer, delta: Buffer, rows: Int, batch: Int,
                      observeOthers: () throws -> Void) throws
    /// The selective scan into y; returns every state when `keepStates`.
    func scanForward(_ dir: ScanDirection, xc: Buffer, delta: Buffer, xdbl: Buffer, y: Buffer, batch: Int,
                     keepStates: Bool) throws -> Buffer?
    /// m = ½·y_f ⊙ SiLU(z) + ½·y_b ⊙ SiLU(z), summed as (0 + ½·y_f ⊙ SiLU(z)) + ½·y_b ⊙ SiLU(z).
    func gateForward(yForward: Buffer, yBackward: Buffer, xz: Buffer, m: Buffer, rows: Int) throws

    /// into (+)= gOut · W for the layer's linear `kind` (the gradient on its input).
    func linearInputGradient(_ kind: LinearKind, gOut: Operand<Buffer>, outCols: Int, inCols: Int, rows: Int,
                             into: Operand<Buffer>, accumulate: Bool) throws
    /// gOutᵀ · input: the gradient of a linear's weight (outCols × inCols), on the host.
    func linearWeightGradient(gOut: Operand<Buffer>, input: Operand<Buffer>, outCols: Int, inCols: Int, rows: Int) throws -> [Float]
    /// gy = ½·gm ⊙ SiLU(z); gz (the z half of gxz) += its gradient.
    func gateBackward(gm: Buffer, y: Buffer, xz: Buffer, gy: Buffer, gxz: Buffer, rows: Int) throws
    /// The scan backward: gu and gΔ (overwritten), gB and gC into gxdbl's B and C columns, with
    /// the extra gradients on the states and C; with `parameters`, (∂A_log, ∂D) on the host.
    func scanBackward(_ dir: ScanDirection, _ d: DirectionTensors<Buffer>, gy: Buffer, extras: DirectionExtras<Buffer>,
                      gu: Buffer, gDelta: Buffer, gxdbl: Buffer, batch: Int, parameters: Bool) throws -> (aLog: [Float], d: [Float])?
    /// g ← (g + extra) · softplus′(v), in place.
    func softplusBackward(g: Buffer, extra: Buffer?, v: Buffer, count: Int) throws
    /// g ← g · SiLU′(pre), in place.
    func siluBackward(g: Buffer, pre: Buffer, count: Int) throws
    /// Adds the conv's input gradient into the x half of gxz; with `parameters`, the conv weight
    /// (official (E, 1, K) layout) and bias gradients on the host.
    func convBackward(_ dir: ScanDirection, gpre: Buffer, xz: Buffer, gxz: Buffer, batch: Int,
                      parameters: Bool) throws -> (weight: [Float], bias: [Float])?
    /// Σ over rows of each of `cols` columns, on the host.
    func columnSums(_ x: Buffer, rows: Int, cols: Int) throws -> [Float]
}

/// The mixer graph (`vim-architecture.md` §2.4 forward, §7 backward), written once and run by
/// any `MixerBackend`.
struct MixerGraph<Backend: MixerBackend> {
    typealias Buffer = Backend.Buffer
    let backend: Backend

    /// The mixer on `normed` (B·L, D); every activation point is offered before it is
    /// consumed. `keepStates` keeps the scan states (for a backward pass).
    func forward(normed: Buffer, batch Bt: Int, keepStates: Bool) throws -> MixerTensors<Buffer> {
        let c = backend.config, rows = Bt * c.seqLen, D = c.embedDim, E = c.dInner, N = c.dState, R = c.dtRank
        let xw = R + 2 * N, b = backend
        // Point `in` (the FP input stays intact for the backward pass).
        let inProj = try b.linearInput(ActivationPoint(.input), Operand(buffer: normed, ld: D), channels: D, batch: Bt)
        let xz = try b.floats(rows * 2 * E)
        try b.linear(.inProj, input: inProj, inCols: D, outCols: 2 * E, rows: rows, batch: Bt, output: Operand(buffer: xz, ld: 2 * E))
        let m = try b.floats(rows * E)
        var dirs: [DirectionTensors<Buffer>] = []
        for dir in ScanDirection.allCases {
            let pre = try b.floats(rows * E), xc = try b.floats(rows * E)
            try b.convForward(dir, xz: xz, pre: pre, xc: xc, batch: Bt)
            // Point `xproj`: the scan reads xc unquantized.
            let xproj = try b.linearInput(ActivationPoint(.xproj, dir), Operand(buffer: xc, ld: E), channels: E, batch: Bt)
            let xdbl = try b.floats(rows * xw)
            try b.linear(.xProj(dir), input: xproj, inCols: E, outCols: xw, rows: rows, batch: Bt, output: Operand(buffer: xdbl, ld: xw))
            // Point `dtproj` (dt_low, the first R columns of xdbl).
            let dtIn = try b.linearInput(ActivationPoint(.dtproj, dir), Operand(buffer: xdbl, ld: xw), channels: R, batch: Bt)
            let v = try b.floats(rows * E), delta = try b.floats(rows * E)
            try b.linear(.dtProj(dir), input: dtIn, inCols: R, outCols: E, rows: rows, batch: Bt, output: Operand(buffer: v, ld: E))
            // Points Δ, B and C are rewritten in place (the scan uses B̂, Ĉ and softplus(v̂)).
            try b.biasSoftplus(dir, v: v, delta: delta, rows: rows, batch: Bt) {
                try b.observe(ActivationPoint(.B, dir), Operand(buffer: xdbl, offset: R, ld: xw), channels: N, batch: Bt)
                try b.observe(ActivationPoint(.C, dir), Operand(buffer: xdbl, offset: R + N, ld: xw), channels: N, batch: Bt)
            }
            let y = try b.floats(rows * E)
            let states = try b.scanForward(dir, xc: xc, delta: delta, xdbl: xdbl, y: y, batch: Bt, keepStates: keepStates)
            dirs.append(DirectionTensors(pre: pre, xc: xc, xdbl: xdbl, v: v, delta: delta, y: y, states: states))
        }
        // Both directions' gates at once: SiLU(z) is shared.
        try b.gateForward(yForward: dirs[ScanDirection.forward.rawValue].y, yBackward: dirs[ScanDirection.backward.rawValue].y,
                          xz: xz, m: m, rows: rows)
        // Point `out` (m stays intact for the backward pass).
        let outIn = try b.linearInput(ActivationPoint(.out), Operand(buffer: m, ld: E), channels: E, batch: Bt)
        let out = try b.floats(rows * D)
        try b.linear(.outProj, input: outIn, inCols: E, outCols: D, rows: rows, batch: Bt, output: Operand(buffer: out, ld: D))
        return MixerTensors(batch: Bt, normed: normed, xz: xz, m: m, out: out, dirs: dirs)
    }

    /// The backward from the gradient on the mixer output: returns the gradient on the normed
    /// input. With `grads`, this layer's parameter gradients are written into it (all but the
    /// norm weight, which the model computes).
    func backward(_ a: MixerTensors<Buffer>, gOut: Buffer, extras: [DirectionExtras<Buffer>],
                  grads: inout LayerWeights?) throws -> Buffer {
        let c = backend.config, Bt = a.batch, rows = Bt * c.seqLen, D = c.embedDim, E = c.dInner, N = c.dState, R = c.dtRank
        let xw = R + 2 * N, b = backend, parameters = grads != nil
        let gOutOp = Operand(buffer: gOut, ld: D)
        if parameters { grads!.outProj = try b.linearWeightGradient(gOut: gOutOp, input: Operand(buffer: a.m, ld: E), outCols: D, inCols: E, rows: rows) }
        let gm = try b.floats(rows * E)
        try b.linearInputGradient(.outProj, gOut: gOutOp, outCols: D, inCols: E, rows: rows, into: Operand(buffer: gm, ld: E), accumulate: false)
        let gxz = try b.zeros(rows * 2 * E)
        for dir in ScanDirection.allCases {
            let di = a.dirs[dir.rawValue], ex = extras[dir.rawValue]
            // Gate: o = ½·y ⊙ SiLU(z).
            let gy = try b.floats(rows * E)
            try b.gateBackward(gm: gm, y: di.y, xz: a.xz, gy: gy, gxz: gxz, rows: rows)
            let gu = try b.zeros(rows * E), gDelta = try b.zeros(rows * E), gxdbl = try b.zeros(rows * xw)
            let scanGrads = try b.scanBackward(dir, di, gy: gy, extras: ex, gu: gu, gDelta: gDelta, gxdbl: gxdbl, batch: Bt,
                                               parameters: parameters)
            // Δ = softplus(v): gv = gΔ·σ(v), in place.
            try b.softplusBackward(g: gDelta, extra: ex.delta, v: di.v, count: rows * E)
            let gv = Operand(buffer: gDelta, ld: E), gxdblOp = Operand(buffer: gxdbl, ld: xw)
            // dt_proj: v = dt_low·W_dtᵀ + bias; x_proj: gxc = gu + gx_dbl·W_x.
            try b.linearInputGradient(.dtProj(dir), gOut: gv, outCols: E, inCols: R, rows: rows, into: gxdblOp, accumulate: false)
            try b.linearInputGradient(.xProj(dir), gOut: gxdblOp, outCols: xw, inCols: E, rows: rows,
                                      into: Operand(buffer: gu, ld: E), accumulate: true)
            if parameters, let scanGrads {
                var dw = grads![dir]
                dw.xProj = try b.linearWeightGradient(gOut: gxdblOp, input: Operand(buffer: di.xc, ld: E), outCols: xw, inCols: E, rows: rows)
                dw.dtProj = try b.linearWeightGradient(gOut: gv, input: Operand(buffer: di.xdbl, ld: xw), outCols: E, inCols: R, rows: rows)
                dw.dtBias = try b.columnSums(gDelta, rows: rows, cols: E)
                dw.aLog = scanGrads.aLog; dw.d = scanGrads.d
                grads![dir] = dw
            }
            // SiLU after the conv, then the conv (its input gradient adds into gxz's x half).
            try b.siluBackward(g: gu, pre: di.pre, count: rows * E)
            if let conv = try b.convBackward(dir, gpre: gu, xz: a.xz, gxz: gxz, batch: Bt, parameters: parameters) {
                grads![dir].convWeight = conv.weight; grads![dir].convBias = conv.bias
            }
        }
        let gxzOp = Operand(buffer: gxz, ld: 2 * E)
        if parameters { grads!.inProj = try b.linearWeightGradient(gOut: gxzOp, input: Operand(buffer: a.normed, ld: D), outCols: 2 * E, inCols: D, rows: rows) }
        let gNormed = try b.floats(rows * D)
        try b.linearInputGradient(.inProj, gOut: gxzOp, outCols: 2 * E, inCols: D, rows: rows, into: Operand(buffer: gNormed, ld: D), accumulate: false)
        return gNormed
    }
}
