import Foundation

/// Everything a run report shows; written as `report.json` and rendered to `report.html`.
struct ReportData: Codable {
    struct ResultRow: Codable {
        var source: String, method: String, setting: String
        var top1: Double, agreement: Double?, logitCosine: Double?
    }
    struct SampleGrid: Codable {
        var generator: String
        /// PNG, base64.
        var png: String
        var labelFidelity: Double?
    }
    struct Attention: Codable {
        var layer: Int, image: Int, side: Int
        var standard: [Float], patched: [Float]
    }
    struct OutlierMap: Codable {
        var layer: Int, point: String, image: Int, channels: Int, steps: Int, nRefresh: Int
        /// Row-major steps × channels, 1 where the channel is an outlier at that step.
        var mask: [UInt8]
    }
    struct PointSeries: Codable {
        var point: String
        /// Per layer.
        var values: [Double]
    }
    struct ScaleSeries: Codable {
        var layer: Int, point: String
        var scales: [Float]
    }
    struct Timing: Codable {
        var phase: String, seconds: Double
    }
    /// What one worker of a cluster run computed in one phase (`phase` names a `timings` row).
    struct WorkerTiming: Codable {
        var worker: String, phase: String
        var tasks: Int
        /// Dispatch (or the worker's previous result) to result, summed over its accepted shards.
        var busySeconds: Double
    }

    var title: String
    var model: String
    var modelSHA256: String
    var configSummary: String
    var testSet: String
    var testSamples: Int
    var fpTop1: Double
    var results: [ResultRow] = []
    var sampleGrids: [SampleGrid] = []
    var attention: Attention?
    var outlierMap: OutlierMap?
    var calibrationOutlierFractions: [PointSeries] = []
    var evalOutlierFractions: [PointSeries] = []
    var scales: [ScaleSeries] = []
    var timings: [Timing] = []
    /// How each calibration set's activation ranges and outlier rates compare with a reference
    /// set of real images, per quantization point (`compare` only).
    struct DataQuality: Codable {
        struct CalibrationSet: Codable {
            var source: String
            var images: Int
            /// Per point: max |x| and p99.9 of |x| of this set over the reference's.
            var maxRatio: [Double]
            var p999Ratio: [Double]
            /// Per point: share of entries in the outlier lists (μ + λσ marking).
            var outlierRate: [Double]
        }
        var reference: String
        var referenceImages: Int
        /// `layer<l>.<point>`, in layout order (12 per layer).
        var points: [String]
        var referenceOutlierRate: [Double]
        var sets: [CalibrationSet]
    }
    var dataQuality: DataQuality?
    /// Cluster runs only; empty for a single process.
    var workers: [WorkerTiming] = []
    var notes: [String] = []
}
