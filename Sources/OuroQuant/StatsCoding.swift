/// Serialisation of calibration statistics to safetensors-friendly tensors, so the cluster can
/// ship them between processes. `decode(encode(x)) == x` bit for bit.
extension BlockOrderedSum {
    public func encode(_ p: String) -> [EncodedTensor] {
        let keys = pending.keys.sorted()
        return [.ints(p + ".width", [Int32(width)]), .ints(p + ".folded_through", [Int32(foldedThrough)]),
                .doubles(p + ".folded", folded), .ints(p + ".pending_blocks", keys.map { Int32($0) }),
                .doubles(p + ".pending", keys.flatMap { pending[$0]! }, shape: [keys.count, width])]
    }

    public static func decode(_ r: inout TensorReader, _ p: String) throws -> BlockOrderedSum {
        let w = try r.int(p + ".width"), ft = try r.int(p + ".folded_through")
        guard w >= 0, ft >= 0 else { throw QuantError(file: r.source, key: p, "negative width or block count") }
        let folded = try r.doubles(p + ".folded", count: w)
        let keys = try r.ints(p + ".pending_blocks")
        let flat = try r.doubles(p + ".pending", count: keys.count * w)
        var pending: [Int: [Double]] = [:]
        for (j, k) in keys.enumerated() {
            guard pending[Int(k)] == nil else { throw QuantError(file: r.source, key: p + ".pending_blocks", "block \(k) twice") }
            pending[Int(k)] = Array(flat[(j * w)..<((j + 1) * w)])
        }
        do { return try BlockOrderedSum(width: w, foldedThrough: ft, folded: folded, pending: pending) }
        catch { throw QuantError(file: r.source, key: p, "\(error)") }
    }
}

extension QuantMethod {
    var code: Int32 { Int32(QuantMethod.allCases.firstIndex(of: self)!) }
    static func decode(_ r: inout TensorReader, _ key: String) throws -> QuantMethod {
        let c = try r.int(key)
        guard QuantMethod.allCases.indices.contains(c) else { throw QuantError(file: r.source, key: key, "unknown method code \(c)") }
        return QuantMethod.allCases[c]
    }
}

extension CalibrationPass1 {
    /// Tensors `p1.*`.
    public func encode() -> [EncodedTensor] {
        var out: [EncodedTensor] = [.ints("p1.method", [method.code]), .ints("p1.blocks", blocks.map { Int32($0) }),
                                    .ints("p1.samples", [Int32(samples)]), .ints("p1.points", [Int32(points.count)])]
        for (i, p) in points.enumerated() {
            let k = "p1.\(i)"
            out += [.floats(k + ".max_abs", p.maxAbs), .floats(k + ".lo", p.lo), .floats(k + ".hi", p.hi),
                    .longs(k + ".counts", [p.outlierEntries, p.entries]),
                    .floats(k + ".channel_max", p.channelMax), .floats(k + ".channel_min", p.channelMin),
                    .ints(k + ".has_abs_sum", [p.channelAbsSum == nil ? 0 : 1])]
            if let s = p.channelAbsSum { out += s.encode(k + ".abs_sum") }
        }
        return out
    }

    /// Inverse of `encode`; `source` names the message or file in errors.
    public static func decode(_ tensors: [EncodedTensor], source: String) throws -> CalibrationPass1 {
        var r = try TensorReader(source: source, encoded: tensors)
        let method = try QuantMethod.decode(&r, "p1.method")
        let blocks = try r.ints("p1.blocks").map(Int.init), samples = try r.int("p1.samples"), n = try r.int("p1.points")
        var points: [Pass1Point] = []
        for i in 0..<max(0, n) {
            let k = "p1.\(i)"
            let m = try r.floats(k + ".max_abs"), L = m.count
            let lo = try r.floats(k + ".lo"), hi = try r.floats(k + ".hi", count: lo.count)
            guard lo.isEmpty || lo.count == L else { throw QuantError(file: source, key: k + ".lo", "\(lo.count) values, expected 0 or \(L)") }
            let counts = try r.longs(k + ".counts", count: 2)
            let cmax = try r.floats(k + ".channel_max", finite: false), cmin = try r.floats(k + ".channel_min", count: cmax.count, finite: false)
            let sum = try r.int(k + ".has_abs_sum") == 1 ? try BlockOrderedSum.decode(&r, k + ".abs_sum") : nil
            points.append(Pass1Point(maxAbs: m, lo: lo, hi: hi, outlierEntries: counts[0], entries: counts[1],
                                     channelMax: cmax, channelMin: cmin, channelAbsSum: sum))
        }
        try r.checkAllUsed()
        return CalibrationPass1(method: method, blocks: blocks, samples: samples, points: points)
    }
}

extension Pass1Summary {
    /// Tensors `bounds.*` (the merged pass-1 maxima a pass-2 task needs).
    public func encode() -> [EncodedTensor] {
        var out: [EncodedTensor] = [.ints("bounds.method", [method.code]), .ints("bounds.points", [Int32(points.count)])]
        for (i, p) in points.enumerated() {
            let k = "bounds.\(i)"
            out += [.floats(k + ".max_abs", p.maxAbs), .floats(k + ".lo", p.lo), .floats(k + ".hi", p.hi),
                    .ints(k + ".fixed", p.fixed), .doubles(k + ".outlier_frac", [p.outlierFraction])]
        }
        return out
    }

    public static func decode(_ tensors: [EncodedTensor], source: String) throws -> Pass1Summary {
        var r = try TensorReader(source: source, encoded: tensors)
        let method = try QuantMethod.decode(&r, "bounds.method"), n = try r.int("bounds.points")
        var points: [PointBounds] = []
        for i in 0..<max(0, n) {
            let k = "bounds.\(i)"
            let lo = try r.floats(k + ".lo")
            points.append(PointBounds(maxAbs: try r.floats(k + ".max_abs"), lo: lo, hi: try r.floats(k + ".hi", count: lo.count),
                                      fixed: try r.ints(k + ".fixed"), outlierFraction: try r.doubles(k + ".outlier_frac", count: 1)[0]))
        }
        try r.checkAllUsed()
        return Pass1Summary(method: method, points: points)
    }
}

extension CalibrationPass2 {
    /// Tensors `p2.*`.
    public func encode() -> [EncodedTensor] {
        var out: [EncodedTensor] = [.ints("p2.method", [method.code]), .ints("p2.inlier_bits", [Int32(inlierBits)]),
                                    .ints("p2.candidates", [Int32(candidates)]), .ints("p2.points", [Int32(points.count)])]
        for (i, p) in points.enumerated() { out += p.encode("p2.\(i)") }
        return out
    }

    public static func decode(_ tensors: [EncodedTensor], source: String) throws -> CalibrationPass2 {
        var r = try TensorReader(source: source, encoded: tensors)
        let method = try QuantMethod.decode(&r, "p2.method")
        let bits = try r.int("p2.inlier_bits"), cand = try r.int("p2.candidates"), n = try r.int("p2.points")
        let points = try (0..<max(0, n)).map { try BlockOrderedSum.decode(&r, "p2.\($0)") }
        try r.checkAllUsed()
        return CalibrationPass2(method: method, inlierBits: bits, candidates: cand, points: points)
    }
}
