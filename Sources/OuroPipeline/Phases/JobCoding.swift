import OuroCluster
import OuroSupport
import Foundation
import OuroCheckpoint
import OuroGen
import OuroQuant

/// How job parameters travel in TASK metadata: GenConfig as canonical JSON text, QuantConfig
/// as a small object. Both round-trip exactly (JSON numbers are printed shortest-round-trip).
enum JobCoding {
    static func genJSON(_ c: GenConfig) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(c), as: UTF8.self)
    }

    static func gen(_ text: String?, source: String) throws -> GenConfig {
        guard let text, let c = try? JSONDecoder().decode(GenConfig.self, from: Data(text.utf8)) else {
            throw JobError("\(source): missing or malformed gen_config")
        }
        try c.validate()
        return c
    }

    static func quantJSON(_ q: QuantConfig) -> JSONValue {
        .object(["setting": .string(q.setting.description), "method": .string(q.method.rawValue), "n_refresh": .int(q.nRefresh),
                 "lambda_sym": .double(q.lambdaSym), "lambda_delta": .double(q.lambdaDelta),
                 "lambda_static_list": .double(q.lambdaStaticList), "candidates": .int(q.candidates),
                 "calib_block": .int(q.calibBlock), "ad_bits": .int(q.adBits), "outlier_stats": .string(q.outlierStats.rawValue)])
    }

    static func quant(_ v: JSONValue?, source: String) throws -> QuantConfig {
        guard let o = v?.objectValue, let setting = o["setting"]?.stringValue, let method = o["method"]?.stringValue,
              let nr = o["n_refresh"]?.intValue, let ls = o["lambda_sym"]?.doubleValue, let ld = o["lambda_delta"]?.doubleValue,
              let ll = o["lambda_static_list"]?.doubleValue, let cand = o["candidates"]?.intValue,
              let cb = o["calib_block"]?.intValue, let ad = o["ad_bits"]?.intValue,
              let os = o["outlier_stats"]?.stringValue.flatMap(OutlierStats.init(rawValue:)) else {
            throw JobError("\(source): missing or malformed quant_config")
        }
        var q = QuantConfig(setting: try QuantSetting(parsing: setting), method: try QuantMethod(parsing: method))
        q.nRefresh = nr; q.lambdaSym = ls; q.lambdaDelta = ld; q.lambdaStaticList = ll
        q.candidates = cand; q.calibBlock = cb; q.adBits = ad; q.outlierStats = os
        try q.validate()
        return q
    }
}
