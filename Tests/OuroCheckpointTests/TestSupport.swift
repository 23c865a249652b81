import Foundation
import OuroCheckpoint

/// A fresh temporary folder for one test.
func makeTempDir() throws -> String {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("ouro-ckpt-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes bytes to `dir/name` and returns the path.
func writeTemp(_ bytes: [UInt8], _ dir: String, _ name: String) throws -> String {
    let p = dir + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: p))
    return p
}

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// SplitMix64: deterministic test randomness without extra dependencies.
struct TestRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Runs `body` and returns the CheckpointError it threw, or nil when it threw nothing
/// (any other error type is returned as a synthetic CheckpointError saying so).
func checkpointError(_ body: () throws -> Void) -> CheckpointError? {
    do {
        try body()
        return nil
    } catch let e as CheckpointError {
        return e
    } catch {
        return CheckpointError(file: "?", "WRONG ERROR TYPE: \(error)")
    }
}

extension Array where Element == UInt8 {
    mutating func le<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}

/// A minimal stored (method 0) zip writer for building test archives in memory, optionally
/// with zip64 end records and zip64 extra fields.
struct StoredZipBuilder {
    var entries: [(name: String, data: [UInt8])] = []
    var zip64 = false

    mutating func add(_ name: String, _ data: [UInt8]) { entries.append((name, data)) }

    func build() -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for (name, data) in entries {
            let offset = out.count
            let crc = CRC32.checksum(data)
            let nameBytes = Array(name.utf8)
            out.le(UInt32(0x0403_4B50)); out.le(UInt16(20)); out.le(UInt16(0)); out.le(UInt16(0))
            out.le(UInt32(0)); out.le(crc); out.le(UInt32(data.count)); out.le(UInt32(data.count))
            out.le(UInt16(nameBytes.count)); out.le(UInt16(0))
            out += nameBytes
            out += data
            var extra: [UInt8] = []
            if zip64 { extra.le(UInt16(1)); extra.le(UInt16(8)); extra.le(UInt64(offset)) }
            central.le(UInt32(0x0201_4B50)); central.le(UInt16(45)); central.le(UInt16(45))
            central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt32(0)); central.le(crc)
            central.le(UInt32(data.count)); central.le(UInt32(data.count))
            central.le(UInt16(nameBytes.count)); central.le(UInt16(extra.count)); central.le(UInt16(0))
            central.le(UInt16(0)); central.le(UInt16(0)); central.le(UInt32(0))
            central.le(zip64 ? UInt32(0xFFFF_FFFF) : UInt32(offset))
            central += nameBytes
            central += extra
        }
        let cdOffset = out.count
        out += central
        if zip64 {
            let rec = out.count
            out.le(UInt32(0x0606_4B50)); out.le(UInt64(44)); out.le(UInt16(45)); out.le(UInt16(45))
            out.le(UInt32(0)); out.le(UInt32(0)); out.le(UInt64(entries.count)); out.le(UInt64(entries.count))
            out.le(UInt64(central.count)); out.le(UInt64(cdOffset))
            out.le(UInt32(0x0706_4B50)); out.le(UInt32(0)); out.le(UInt64(rec)); out.le(UInt32(1))
        }
        out.le(UInt32(0x0605_4B50)); out.le(UInt16(0)); out.le(UInt16(0))
        out.le(UInt16(zip64 ? 0xFFFF : entries.count)); out.le(UInt16(zip64 ? 0xFFFF : entries.count))
        out.le(UInt32(zip64 ? 0xFFFF_FFFF : UInt32(central.count)))
        out.le(UInt32(zip64 ? 0xFFFF_FFFF : UInt32(cdOffset)))
        out.le(UInt16(0))
        return out
    }
}

/// Emits pickle opcodes by hand (protocol 2 unless changed), the way torch.save lays them out.
struct PickleBuilder {
    var b: [UInt8]

    init(protocol p: UInt8 = 2) { b = [0x80, p] }

    mutating func op(_ o: UInt8) { b.append(o) }
    mutating func mark() { op(0x28) }
    mutating func str(_ s: String) { op(0x58); b.le(UInt32(s.utf8.count)); b += Array(s.utf8) }
    mutating func int(_ v: Int) {
        if (0..<256).contains(v) { op(0x4B); b.append(UInt8(v)) }
        else if let small = Int32(exactly: v) { op(0x4A); b.le(small) }
        else { op(0x8A); b.append(8); b.le(Int64(v)) } // LONG1
    }
    mutating func global(_ module: String, _ name: String) { op(0x63); b += Array("\(module)\n\(name)\n".utf8) }
    mutating func ints(_ v: [Int]) { mark(); for x in v { int(x) }; op(0x74) }
    mutating func emptyOrderedDict() { global("collections", "OrderedDict"); op(0x29); op(0x52) }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    mutating func tensor(key: String, storageClass: (String, String) = ("torch", "FloatStorage"), numel: Int,
                         offset: Int = 0, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark(); str("storage"); global(storageClass.0, storageClass.1); str(key); str("cpu"); int(numel); op(0x74)
        op(0x51) // BINPERSID
        int(offset); ints(size); ints(stride)
        op(0x89) // NEWFALSE
        emptyOrderedDict()
        op(0x74)
        op(0x52)
    }

    /// `OrderedDict` filled by SETITEMS, with `body` emitting key/value pairs.
    mutating func orderedDict(_ body: (inout PickleBuilder) -> Void) {
        emptyOrderedDict()
        mark()
        body(&self)
        op(0x75)
    }

    /// `{...}` filled by SETITEMS.
    mutating func dict(_ body: (inout PickleBuilder) -> Void) {
        op(0x7D)
        mark()
        body(&self)
        op(0x75)
    }

    mutating func stop() { op(0x2E) }

    /// `os.system('echo pwned')` as protocol-2 opcodes: GLOBAL, args tuple, REDUCE.
    mutating func osSystemCall() {
        global("os", "system")
        mark(); str("echo pwned"); op(0x74)
        op(0x52)
    }
}

extension Array where Element == Float {
    var littleEndianBytes: [UInt8] {
        var out: [UInt8] = []
        for v in self { out.le(v.bitPattern) }
        return out
    }
}
