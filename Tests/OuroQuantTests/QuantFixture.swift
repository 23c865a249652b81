import OuroCheckpoint
import OuroEngine
import OuroModel
import OuroTestSupport
import OuroQuant
import Testing

/// The vim-micro model, the quant golden and its calibration/evaluation inputs.
struct QuantFixture {
    let model: VisionMamba
    let golden: Golden
    let calib: Tensor
    let input: Tensor

    /// A failed requirement when the fixture folder is absent: tests that load it carry the
    /// `Fixtures.enabled` condition, so this happens only under CI=true, where it must fail.
    static func load() throws -> QuantFixture {
        let g = try #require(try Golden.open("quant-micro.golden.safetensors"), "\(Fixtures.missingReason)")
        let v = try #require(try Golden.open("vim-micro.golden.safetensors"), "\(Fixtures.missingReason)")
        let mp = try #require(Fixtures.path("vim-micro.safetensors"), "\(Fixtures.missingReason)")
        let model = try VisionMamba.load(path: mp)
        return QuantFixture(model: model, golden: g, calib: try g.tensor("calib_images"), input: try v.tensor("input"))
    }

    /// Calibrates `method` at `setting` on the 16 calibration images and assembles the model.
    func quantize(_ setting: QuantSetting, _ method: QuantMethod, threads: Int = 2) throws -> (QuantizedModel, Calibrator.Result) {
        let cfg = QuantConfig(setting: setting, method: method)
        let cal = try Calibrator(model: model, config: cfg, threads: threads)
        let r = try cal.calibrate(images: calib)
        let q = try QuantizedModel.assemble(model: model, quant: cfg, points: r.points,
                                            provenance: QuantProvenance(calibSource: "golden", calibCount: 16, calibSHA256: "", modelSHA256: ""))
        return (q, r)
    }
}

/// Relative difference |a − b| / |b| (0 when both are 0).
func relDiff(_ a: Float, _ b: Float) -> Double {
    b == 0 ? Double(abs(a)) : Double(abs(a - b)) / Double(abs(b))
}
