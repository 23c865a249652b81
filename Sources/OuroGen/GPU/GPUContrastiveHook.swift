import OuroEngine
import OuroModel

/// The contrastive generators' loss (`ouromamba`, `contrastive-raw`) on GPU layer internals.
///
/// Everything is a GPU kernel: Δ-weights, patched features, similarities, the per-patch
/// InfoNCE decisions (top-k positives, softmax coefficients; `ContrastiveLoss.infoNCE`'s
/// arithmetic) and every gradient into states, C and Δ, so a layer needs no host round trip.
/// Candidate windows wider than `GPUContrastiveKernels.maxCandidates` run InfoNCE on the host
/// through the CPU loss's own function. Losses are recorded in the host hook (`GenLossHook`)
/// like on the CPU (`recordLosses` after the backward pass).
final class GPUContrastiveHook: GPUBackwardLayerHook {
    let host: GenLossHook
    let device: GPUDevice
    let loss: ContrastiveLoss
    let M: Int, T: Int
    let candidates: [[Int]]
    let starts: [Int]
    // Index tables (device copies, int32).
    let pos, winStart, winList, invWinStart, invWinList, candStartBuf, candList, candOwner, invCandStart, invCandList: GPUBuffer
    /// Positives k of each patch (nil when a patch has more candidates than the device InfoNCE
    /// holds, and InfoNCE runs on the host); τ and the layer weight as doubles.
    let positives: GPUBuffer?
    let infoNCEParams: GPUBuffer
    /// Per-layer, per-image contrastive losses of this evaluation (device InfoNCE).
    private var lossBuffer: GPUBuffer?

    init(host: GenLossHook, device: GPUDevice) throws {
        self.host = host; self.device = device
        let c = host.model
        let grid = PatchGrid(side: c.gridSize, clsIndex: c.clsIndex)
        loss = ContrastiveLoss(grid: grid, E: c.dInner, N: c.dState, config: host.config, raw: host.config.generator == .contrastiveRaw)
        M = grid.count
        let win = loss.windows()
        candidates = loss.candidateLists()
        func prefixStarts(_ lists: [[Int]]) -> [Int32] { ContrastiveLoss.slotStarts(lists).map(Int32.init) }
        // Inverse windows: for each q, the p whose window holds q, in (p ascending, window order).
        var inv = [[Int]](repeating: [], count: M)
        for p in 0..<M { for q in win[p] { inv[q].append(p) } }
        // Inverse candidates: for each p, the slots k = (p', i) whose candidate is p, p' ascending.
        starts = ContrastiveLoss.slotStarts(candidates)
        T = starts.last!
        var invCand = [[Int]](repeating: [], count: M), owner: [Int32] = []
        for p in 0..<M {
            for (i, q) in candidates[p].enumerated() { invCand[q].append(starts[p] + i); owner.append(Int32(p)) }
        }
        func ints(_ v: [Int32]) throws -> GPUBuffer { try device.upload(v) }
        pos = try ints((0..<M).map { Int32(grid.position($0)) })
        winStart = try ints(prefixStarts(win)); winList = try ints(win.flatMap { $0 }.map(Int32.init))
        invWinStart = try ints(prefixStarts(inv)); invWinList = try ints(inv.flatMap { $0 }.map(Int32.init))
        candStartBuf = try ints(starts.map(Int32.init)); candList = try ints(candidates.flatMap { $0 }.map(Int32.init)); candOwner = try ints(owner)
        invCandStart = try ints(prefixStarts(invCand)); invCandList = try ints(invCand.flatMap { $0 }.map(Int32.init))
        let cfg = host.config
        if (candidates.map(\.count).max() ?? 0) <= GPUContrastiveKernels.maxCandidates {
            positives = try ints(candidates.map {
                Int32(PatchGrid.positives(candidates: $0.count, k: cfg.contrastTopk, windowSize: cfg.contrastNbhd, rule: cfg.borderTopk))
            })
        } else {
            positives = nil
        }
        infoNCEParams = try device.upload([Double(cfg.tau), 1 / Double(host.layers.count)])
    }

    /// Records the per-layer losses computed on the device in the host hook (one download per
    /// evaluation); call after the backward pass.
    func recordLosses(batch B: Int) throws {
        guard let lossBuffer else { return }
        let all = try doubles(lossBuffer, B * host.layers.count)
        for li in host.layers.indices { for b in 0..<B { host.contrastive[b][li] = all[li * B + b] } }
    }

    private func run(_ name: String, threads: Int, _ args: [GPUArg]) throws {
        try device.launch(name, in: GPUContrastiveKernels.module, threads: threads, args: args)
    }

    private func doubles(_ b: GPUBuffer, _ count: Int) throws -> [Double] { try device.download(b, count: count, as: Double.self) }

    func layerBackward(layer l: Int, internals a: GPULayerInternals, gHidden: GPUBuffer, arena: GPUArena) throws -> [GPUDirectionExtras?]? {
        guard let li = host.layers.firstIndex(of: l) else { return nil }
        let c = host.model, B = a.batch, L = c.seqLen, E = c.dInner, N = c.dState, R = c.dtRank, xw = R + 2 * N, F = 2 * E
        let dirs = ScanDirection.allCases.map(\.rawValue)
        // Δ-weights per image and direction, on the device (no host round trip).
        let uniform = loss.raw || loss.config.deltaWeighting == "uniform"
        var wBufs: [GPUBuffer] = [], infoBufs: [GPUBuffer] = []
        for d in dirs {
            let meansBuf = try arena.floats(2 * B * M), wb = try arena.floats(B * M), info = try arena.floats(2 * 3 * B)
            try run("gen_delta_means", threads: B * M, [.floats(a.delta[d]), .floats(pos), .floats(meansBuf), .i(B), .i(L), .i(M), .i(E)])
            try run("gen_delta_weights", threads: B, [.floats(meansBuf), .floats(wb), .floats(info), .i(B), .i(M), .i(uniform ? 1 : 0)])
            wBufs.append(wb); infoBufs.append(info)
        }
        // Features, unit rows and candidate similarities.
        let feats = try arena.floats(B * M * F)
        var patched: [GPUBuffer] = []
        for d in dirs {
            let hp = try arena.floats(B * M * N * E)
            try run("gen_patched", threads: B * M * N * E,
                    [.floats(a.states[d]), .floats(wBufs[d]), .floats(pos), .floats(winStart), .floats(winList), .floats(hp),
                     .i(B), .i(L), .i(M), .i(N), .i(E)])
            try run("gen_features", threads: B * M * E,
                    [.floats(hp), .floats(a.xdbl[d]), .i(xw), .i(R + N), .floats(pos), .floats(feats), .i(B), .i(L), .i(M), .i(N),
                     .i(E), .i(F), .i(d * E)])
            patched.append(hp)
        }
        let unit = try arena.floats(2 * B * M * F), norms = try arena.floats(2 * B * M), sims = try arena.floats(2 * B * T)
        try run("gen_unit_rows", threads: B * M, [.floats(feats), .floats(unit), .floats(norms), .i(B * M), .i(F)])
        try run("gen_sims", threads: B * T, [.floats(unit), .floats(candOwner), .floats(candList), .floats(sims), .i(B), .i(M), .i(F), .i(T)])
        let coefBuf = try arena.floats(2 * B * T)
        if let positives {
            // InfoNCE on the device: one thread per (image, patch), then each image's mean in
            // patch order into this layer's slot of the loss buffer (read once, at the end).
            if lossBuffer == nil { lossBuffer = try device.allocate(bytes: 8 * B * host.layers.count) }
            let ell = try arena.floats(2 * B * M)
            try run("gen_infonce", threads: B * M, [.floats(sims), .floats(candStartBuf), .floats(candList), .floats(positives),
                                                    .floats(infoNCEParams), .floats(coefBuf), .floats(ell), .i(B), .i(M), .i(T)])
            try run("gen_image_losses", threads: B, [.floats(ell), .pointer(lossBuffer!.address + UInt64(8 * B * li)), .i(B), .i(M)])
        } else {
            // Wider candidate windows than the device kernel holds: InfoNCE on the host.
            let s = try doubles(sims, B * T)
            var coef = [Double](repeating: 0, count: B * T), losses = [Double](repeating: 0, count: B)
            var positive = [Bool](repeating: false, count: B * T), ell = [Double](repeating: 0, count: B * M)
            let scale = 1 / Double(host.layers.count), T = self.T, patches = self.M, starts = self.starts, candidates = self.candidates
            // Images are independent and fill disjoint slices.
            s.withUnsafeBufferPointer { sp in coef.withUnsafeMutableBufferPointer { cp in losses.withUnsafeMutableBufferPointer { lp in
            positive.withUnsafeMutableBufferPointer { pp in ell.withUnsafeMutableBufferPointer { ep in
                host.runner.forEach(B) { b in
                    lp[b] = loss.infoNCE(candidates: candidates, starts: starts, sims: sp.baseAddress! + b * T, scale: scale,
                                         coefficients: cp.baseAddress! + b * T, positive: pp.baseAddress! + b * T,
                                         ell: ep.baseAddress! + b * patches)
                }
            }}}}}
            for b in 0..<B { host.contrastive[b][li] = losses[b] }
            try device.upload(coef, to: coefBuf)
        }
        let gfeat = try arena.floats(B * M * F)
        try run("gen_feature_grad", threads: B * M * F,
                [.floats(unit), .floats(norms), .floats(sims), .floats(coefBuf), .floats(candStartBuf), .floats(candList),
                 .floats(invCandStart), .floats(invCandList), .floats(candOwner), .floats(gfeat), .i(B), .i(M), .i(F), .i(T)])
        // Backward into C, the states and (through the Δ-weights) Δ, per direction.
        var extras: [GPUDirectionExtras?] = []
        for d in dirs {
            let gc = try arena.zeros(B * L * N), gstates = try arena.zeros(B * L * N * E), partial = try arena.floats(B * M * N * E)
            try run("gen_grad_c_terms", threads: B * M * N * E,
                    [.floats(patched[d]), .floats(gfeat), .i(B), .i(M), .i(N), .i(E), .i(F), .i(d * E)])
            try run("gen_sum_c", threads: B * M * N, [.floats(patched[d]), .floats(pos), .floats(gc), .i(B), .i(L), .i(M), .i(N), .i(E)])
            try run("gen_grad_states", threads: B * M * N * E,
                    [.floats(a.states[d]), .floats(a.xdbl[d]), .i(xw), .i(R + N), .floats(wBufs[d]), .floats(pos),
                     .floats(invWinStart), .floats(invWinList), .floats(gfeat), .floats(gstates), .floats(partial),
                     .i(B), .i(L), .i(M), .i(N), .i(E), .i(F), .i(d * E)])
            var gdelta: GPUBuffer?
            if loss.deltaWeightsHaveGradient {
                // Two stages (over e, then n), so each thread's serial sum stays short.
                let gwn = try arena.floats(2 * B * M * N), gw = try arena.floats(2 * B * M)
                try run("gen_row_sums", threads: B * M * N, [.floats(partial), .floats(gwn), .i(B * M * N), .i(E)])
                try run("gen_row_sums_d", threads: B * M, [.floats(gwn), .floats(gw), .i(B * M), .i(N)])
                let gBuf = try arena.floats(B * M)
                try run("gen_delta_mean_grad", threads: B, [.floats(gw), .floats(wBufs[d]), .floats(infoBufs[d]), .floats(gBuf),
                                                            .i(B), .i(M), .i(E)])
                let gd = try arena.zeros(B * L * E)
                try run("gen_delta_rows", threads: B * M * E, [.floats(gBuf), .floats(pos), .floats(gd), .i(B), .i(L), .i(M), .i(E)])
                gdelta = gd
            }
            extras.append(GPUDirectionExtras(states: gstates, c: gc, delta: gdelta))
        }
        return extras
    }
}
