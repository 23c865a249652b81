import OuroCheckpoint
import OuroEngine
import OuroModel
import OuroTestSupport
import OuroQuant

/// The vim-micro model, the quant golden and its calibration/evaluation inputs.
struct QuantFixture {
    let model: VisionMamba
    let golden: Golden
    let calib: Tensor
    let input: Tensor

    /// Nil (with a loud skip message) when the fixture folder is absent.
    static func load() throws -> QuantFixture? {
        guard let g = try Golden.open("quant-micro.golden.safetensors"),
              let v = try Golden.open("vim-micro.golden.safetensors"),
              let mp = Fixtures.path("vim-micro.safetensors") else { return nil }
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
