/// One row of the quantization-format table: a bit width of one tensor role, how its values are
/// stored, and which engines and devices run it. Every legality check reads this table (the
/// setting parser, both engines, the integer and GPU GEMMs), so a setting that calibrates also
/// says up front where it can run.
public struct QuantFormat: Sendable, Hashable, CustomStringConvertible {
    /// What the bits apply to.
    public enum Role: String, Sendable, CaseIterable {
        /// Linear weights (b_w, per-row symmetric).
        case weight
        /// Inlier activations (b_I, static per-time-step scales).
        case inlier
        /// Outlier activation channels (b_O; 16 = kept in float).
        case outlier
        /// Â and D̂ of the scan (`ad_bits`).
        case scanParameter = "scan-parameter"
    }

    /// How the integers are stored.
    public enum Packing: String, Sendable {
        /// Two 4-bit values per byte (packed weights of the integer engine and the artifact).
        case int4Pairs = "int4 pairs"
        /// One value per int8.
        case int8
        /// Not quantized: float32.
        case float32
    }

    /// Where a quantized model can run.
    public enum Device: String, Sendable {
        case cpu, gpu
    }

    /// The tensor role.
    public let role: Role
    /// Bits (16: float).
    public let bits: Int
    /// Storage.
    public let packing: Packing
    /// Engines that run it (`sim` runs every format).
    public let engines: Set<QuantEngine>
    /// Devices with a kernel for it (the GPU has the W4 int8 mma GEMM only).
    public let devices: Set<Device>

    /// Largest quantized magnitude 2^(b−1) − 1 (0 for float).
    public var qmax: Int { bits >= 16 ? 0 : (1 << (bits - 1)) - 1 }

    /// `inlier 4-bit (int8; sim, int; cpu, gpu)`.
    public var description: String {
        "\(role.rawValue) \(bits == 16 ? "float" : "\(bits)-bit") (\(packing.rawValue); "
            + "\(engines.map(\.rawValue).sorted().joined(separator: ", ")); \(devices.map(\.rawValue).sorted().joined(separator: ", ")))"
    }
}

extension QuantFormat {
    /// The table.
    public static let table: [QuantFormat] = {
        var t: [QuantFormat] = [
            QuantFormat(role: .weight, bits: 4, packing: .int4Pairs, engines: [.sim, .int], devices: [.cpu, .gpu]),
            QuantFormat(role: .weight, bits: 8, packing: .int8, engines: [.sim, .int], devices: [.cpu]),
        ]
        for b in 2...8 {
            let integer = b == 4 || b == 8
            t.append(QuantFormat(role: .inlier, bits: b, packing: .int8, engines: integer ? [.sim, .int] : [.sim],
                                 devices: integer ? [.cpu, .gpu] : [.cpu]))
        }
        for b in 2...8 {
            t.append(QuantFormat(role: .outlier, bits: b, packing: .int8, engines: b == 8 ? [.sim, .int] : [.sim],
                                 devices: b == 8 ? [.cpu, .gpu] : [.cpu]))
        }
        t.append(QuantFormat(role: .outlier, bits: 16, packing: .float32, engines: [.sim, .int], devices: [.cpu]))
        // Â and D̂ are dequantized before the scan, on either engine.
        for b in 2...8 { t.append(QuantFormat(role: .scanParameter, bits: b, packing: .int8, engines: [.sim, .int], devices: [.cpu])) }
        return t
    }()

    /// The format of `bits` for `role`, or nil when the table has none.
    public static func lookup(_ role: Role, bits: Int) -> QuantFormat? {
        table.first { $0.role == role && $0.bits == bits }
    }

    /// The format of `bits` for `role`; an error listing the valid widths when there is none.
    public static func require(_ role: Role, bits: Int) throws -> QuantFormat {
        guard let f = lookup(role, bits: bits) else {
            let valid = table.filter { $0.role == role }.map { $0.bits == 16 ? "16 (float)" : String($0.bits) }
            throw QuantError("\(role.rawValue) bits \(bits): expected one of \(valid.joined(separator: ", "))")
        }
        return f
    }

    /// True when `engine` runs `bits` for `role`.
    public static func supports(_ role: Role, bits: Int, engine: QuantEngine) -> Bool {
        lookup(role, bits: bits)?.engines.contains(engine) ?? false
    }

    /// True when `device` has a kernel for `bits` of `role`.
    public static func supports(_ role: Role, bits: Int, device: Device) -> Bool {
        lookup(role, bits: bits)?.devices.contains(device) ?? false
    }
}

extension QuantSetting {
    /// The formats of its weights, inliers and outliers.
    public var formats: [QuantFormat] {
        [QuantFormat.lookup(.weight, bits: weightBits), QuantFormat.lookup(.inlier, bits: inlierBits),
         QuantFormat.lookup(.outlier, bits: outlierBits)].compactMap { $0 }
    }

    /// The engines that run every part of it.
    public var engines: Set<QuantEngine> { formats.reduce(Set(QuantEngine.allCases)) { $0.intersection($1.engines) } }

    /// An error saying which widths `engine` runs, or nil when it runs all of this setting.
    public func unsupported(by engine: QuantEngine) -> String? {
        guard formats.contains(where: { !$0.engines.contains(engine) }) else { return nil }
        // Name the roles where the engine runs only some widths: "inlier bits 4/8 and outlier bits 8/16".
        let limits = [QuantFormat.Role.weight, .inlier, .outlier].compactMap { role -> String? in
            let rows = QuantFormat.table.filter { $0.role == role }
            let ok = rows.filter { $0.engines.contains(engine) }.map { String($0.bits) }
            return ok.count == rows.count ? nil : "\(role.rawValue) bits \(ok.joined(separator: "/"))"
        }
        return "--engine \(engine.rawValue) supports \(limits.joined(separator: " and ")), not \(self)"
    }
}
