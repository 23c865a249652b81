import OuroSupport
import COuroKernels
import Foundation
import OuroCheckpoint
import OuroModel

/// The quantized-model artifact (`method.md` §4.10): one safetensors file holding packed
/// integer weights with row scales, Â/D̂ with scales, the per-step point scales (+ z for Δ,
/// + the fixed list of `static-outlier-list`), the FP tensors that stay FP, and JSON-ish string
/// metadata. `tensors_sha256` covers every tensor byte, so corruption is detected on load.
public enum QuantArtifact {
    public static let format = "ouromamba-quant"
    public static let formatVersion = "1"

    /// Official names of the tensors replaced by quantized forms.
    static func quantizedNames(_ c: VisionMambaConfig) -> Set<String> {
        var s: Set<String> = []
        for l in 0..<c.depth {
            for t in LayerTensor.all { s.insert("layers.\(l).mixer." + t.official) }
        }
        return s
    }

    /// (artifact prefix, matrix) of every quantized matrix of layer l.
    static func matrices(_ q: QuantizedLayer, layer l: Int) -> [(String, QuantizedMatrix)] {
        LayerTensor.all.map { ("layers.\(l).mixer." + $0.name, q[keyPath: $0.keyPath]) }
    }

    /// All tensors of the artifact, in file order.
    public static func tensors(_ m: QuantizedModel) throws -> [EncodedTensor] {
        var out: [EncodedTensor] = []
        let skip = quantizedNames(m.config)
        let shapes = Dictionary(uniqueKeysWithValues: VisionMambaWeights.parameterShapes(m.config).map { ($0.name, $0.shape) })
        m.fp.forEachParameterValue { name, v in
            if !skip.contains(name) { out.append(.floats(name, v, shape: shapes[name]!)) }
        }
        for (l, q) in m.layers.enumerated() {
            for (p, mat) in matrices(q, layer: l) {
                if mat.bits == 4 {
                    let rb = Int(ouro_int4_row_bytes(Int32(mat.cols)))
                    let packed = try PackedWeights(int8: mat.values, rows: mat.rows, cols: mat.cols, bits: 4, rowScales: mat.scales)
                    out.append(EncodedTensor(name: p + ".qweight", dtype: .u8, shape: [mat.rows, rb], bytes: packed.storage))
                } else {
                    out.append(EncodedTensor(name: p + ".qweight", dtype: .i8, shape: [mat.rows, mat.cols],
                                             bytes: mat.values.map { UInt8(bitPattern: $0) }))
                }
                out.append(.floats(p + ".wscale", mat.scales))
                out.append(.ints(p + ".wistar", mat.istar))
            }
        }
        for (i, spec) in QuantLayout(m.config).points.enumerated() {
            let p = m.points[i], k = "quant.\(spec.name)"
            out.append(.floats(k + ".S", p.scales))
            if spec.asymmetric { out.append(.ints(k + ".z", p.zeros)) }
            out.append(.ints(k + ".istar", p.istar))
            if m.quant.method == .staticOutlierList { out.append(.ints(k + ".fixed", p.fixed)) }
            out.append(.doubles(k + ".outlier_frac", [p.outlierFraction]))
        }
        return out
    }

    /// String metadata (everything needed to rebuild the configuration, plus provenance).
    public static func metadata(_ m: QuantizedModel, tensorsSHA256: String) -> [String: String] {
        let q = m.quant
        return ["format": format, "format_version": formatVersion,
                "config": String(decoding: m.config.jsonData(), as: UTF8.self),
                "setting": q.setting.description, "w_bits": "\(q.setting.weightBits)", "a_bits": "\(q.setting.inlierBits)",
                "o_bits": "\(q.setting.outlierBits)", "ad_bits": "\(q.adBits)", "method": q.method.rawValue,
                "lambda_sym": "\(q.lambdaSym)", "lambda_delta": "\(q.lambdaDelta)", "lambda_static_list": "\(q.lambdaStaticList)",
                "n_refresh": "\(q.nRefresh)", "clip_candidates": "\(q.candidates)", "lp_norm": "\(LpError.p)",
                "calib_block": "\(q.calibBlock)", "calib_inputs": "fp", "outlier_stats": q.outlierStats.rawValue,
                "ad_granularity": "per-channel", "quantize_embed_head": "false", "quantize_u": "false",
                "calib_source": m.provenance.calibSource, "calib_count": "\(m.provenance.calibCount)",
                "calib_sha256": m.provenance.calibSHA256, "source_model_sha256": m.provenance.modelSHA256,
                "tool_version": m.provenance.toolVersion, "tensors_sha256": tensorsSHA256]
    }

    /// The file bytes (deterministic: the same model gives the same bytes).
    public static func encode(_ m: QuantizedModel) throws -> [UInt8] {
        try m.checkCoverage()
        let ts = try tensors(m)
        var h = SHA256()
        for t in ts { h.update(t.bytes) }
        var w = SafeTensorsWriter(metadata: metadata(m, tensorsSHA256: h.finalizeHex()))
        for t in ts { try w.add(t.name, tensor: try t.stored()) }
        return w.encoded()
    }

    /// Writes the artifact atomically.
    public static func write(_ m: QuantizedModel, to path: String) throws {
        try AtomicFile.write(try encode(m), to: path)
    }

    /// Reads and validates an artifact: format, version, checksum, configuration, every
    /// expected tensor with its dtype and shape (and nothing else), then the coverage check.
    public static func read(path: String) throws -> QuantizedModel {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile.read(path: path) } catch { throw QuantError("\(path): not a readable safetensors file (\(error))") }
        let meta = file.metadata
        func need(_ k: String) throws -> String {
            guard let v = meta[k] else { throw QuantError(file: path, key: "__metadata__.\(k)", "missing") }
            return v
        }
        func int(_ k: String) throws -> Int {
            guard let v = Int(try need(k)) else { throw QuantError(file: path, key: "__metadata__.\(k)", "'\(meta[k]!)' is not an integer") }
            return v
        }
        func double(_ k: String) throws -> Double {
            guard let v = Double(try need(k)), v.isFinite else { throw QuantError(file: path, key: "__metadata__.\(k)", "'\(meta[k]!)' is not a number") }
            return v
        }
        guard try need("format") == format else {
            throw QuantError(file: path, key: "__metadata__.format", "'\(meta["format"]!)', expected '\(format)' (not a quantized OuroMamba model)")
        }
        guard try need("format_version") == formatVersion else {
            throw QuantError(file: path, key: "__metadata__.format_version", "'\(meta["format_version"]!)', this build reads version \(formatVersion)")
        }
        // Checksum over every tensor's bytes in file order.
        var stored: [String: StoredTensor] = [:]
        var h = SHA256()
        for n in file.names {
            let t = try file.tensor(n)
            h.update(t.bytes)
            stored[n] = t
        }
        guard h.finalizeHex() == (try need("tensors_sha256")) else {
            throw QuantError(file: path, key: "__metadata__.tensors_sha256", "tensor data does not match its checksum (corrupt or modified file)")
        }
        let config: VisionMambaConfig
        do { config = try VisionMambaConfig.parse(Data(try need("config").utf8), source: "\(path) metadata 'config'") }
        catch let e as ModelError { throw QuantError(e.description) }
        var q = QuantConfig(setting: try QuantSetting(weightBits: try int("w_bits"), inlierBits: try int("a_bits"), outlierBits: try int("o_bits")),
                            method: try QuantMethod(parsing: try need("method")))
        q.adBits = try int("ad_bits"); q.nRefresh = try int("n_refresh"); q.candidates = try int("clip_candidates")
        q.calibBlock = try int("calib_block")
        q.lambdaSym = try double("lambda_sym"); q.lambdaDelta = try double("lambda_delta"); q.lambdaStaticList = try double("lambda_static_list")
        guard let os = OutlierStats(rawValue: try need("outlier_stats")) else {
            throw QuantError(file: path, key: "__metadata__.outlier_stats", "'\(meta["outlier_stats"]!)', expected inliers or all-with-zeros")
        }
        q.outlierStats = os
        try q.validate()
        var r = TensorReader(source: path, tensors: stored)
        // FP tensors.
        var fp = VisionMambaWeights(zerosFor: config)
        let skip = quantizedNames(config)
        try fp.forEachParameter { name, v in
            if skip.contains(name) { return }
            v = try r.floats(name, count: v.count)
        }
        // Quantized matrices.
        func matrix(_ p: String, _ rows: Int, _ cols: Int, _ bits: Int) throws -> QuantizedMatrix {
            let values: [Int8]
            if bits == 4 {
                let rb = Int(ouro_int4_row_bytes(Int32(cols)))
                let bytes = try r.raw(p + ".qweight", .u8, shape: [rows, rb])
                var out = [Int8](repeating: 0, count: rows * cols)
                ouro_unpack_int4(bytes, Int32(rows), Int32(cols), &out)
                values = out
            } else {
                values = try r.raw(p + ".qweight", .i8, shape: [rows, cols]).map { Int8(bitPattern: $0) }
            }
            let qmax = Quantizer.qmax(bits: bits)
            if let i = values.firstIndex(where: { abs(Int($0)) > qmax }) {
                throw QuantError(file: path, key: p + ".qweight", "integer \(values[i]) at index \(i) outside ±\(qmax) for \(bits) bits")
            }
            let scales = try r.floats(p + ".wscale", count: rows)
            if let i = scales.firstIndex(where: { !($0 > 0) }) { throw QuantError(file: path, key: p + ".wscale", "scale \(scales[i]) at row \(i) is not positive") }
            return QuantizedMatrix(rows: rows, cols: cols, bits: bits, values: values, scales: scales,
                                   istar: try r.ints(p + ".wistar", count: rows))
        }
        var layers: [QuantizedLayer] = []
        for l in 0..<config.depth {
            layers.append(QuantizedLayer(tensors: try LayerTensor.all.map { t in
                let (rows, cols) = t.shape(config)
                return try matrix("layers.\(l).mixer." + t.name, rows, cols, t.bitWidth(q))
            }))
        }
        // Points.
        let perPoint = q.method == .staticMinmax ? 1 : config.seqLen
        var points: [CalibratedPoint] = []
        for spec in QuantLayout(config).points {
            let k = "quant.\(spec.name)"
            points.append(CalibratedPoint(
                scales: try r.floats(k + ".S", count: perPoint),
                zeros: spec.asymmetric ? try r.ints(k + ".z", count: perPoint) : [],
                istar: try r.ints(k + ".istar"),
                fixed: q.method == .staticOutlierList ? try r.ints(k + ".fixed") : [],
                outlierFraction: try r.doubles(k + ".outlier_frac", count: 1)[0]))
        }
        try r.checkAllUsed()
        let prov = QuantProvenance(calibSource: try need("calib_source"), calibCount: try int("calib_count"),
                                   calibSHA256: try need("calib_sha256"), modelSHA256: try need("source_model_sha256"),
                                   toolVersion: try need("tool_version"))
        do {
            return try QuantizedModel(config: config, quant: q, fp: fp, layers: layers, points: points, provenance: prov)
        } catch let e as QuantError { throw QuantError("\(path): \(e.description)") }
    }
}
