import Foundation
import OuroCheckpoint
import OuroTestSupport
import Testing

@Suite struct SafeTensorsBadInputTests {
    /// A safetensors file with the given header text and `dataBytes` zero bytes of data.
    static func file(header: String, dataBytes: Int, headerLength: UInt64? = nil) -> [UInt8] {
        var out: [UInt8] = []
        let h = Array(header.utf8)
        out.le(headerLength ?? UInt64(h.count))
        return out + h + [UInt8](repeating: 0, count: dataBytes)
    }

    /// Reads `bytes` as a safetensors file (and every tensor) and returns the error thrown.
    static func error(_ bytes: [UInt8]) throws -> CheckpointError? {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try writeTemp(bytes, dir, "bad.safetensors")
        return checkpointError { _ = try SafeTensorsFile.read(path: p).allTensors() }
    }

    @Test func overlappingOffsetsAreRejected() throws {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let e = try #require(try Self.error(Self.file(header: h, dataBytes: 12)))
        #expect(e.key == "b")
        #expect(e.description.contains("overlap"))
        #expect(e.description.contains("bad.safetensors"))
    }

    @Test func offsetsPastTheEndAreRejected() throws {
        let h = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        let e = try #require(try Self.error(Self.file(header: h, dataBytes: 12)))
        #expect(e.key == "a")
        #expect(e.description.contains("past the end"))
    }

    @Test func absurdHeaderLengthIsRejected() throws {
        let h = #"{}"#
        for n: UInt64 in [.max, 1 << 40, 100] {
            let e = try #require(try Self.error(Self.file(header: h, dataBytes: 0, headerLength: n)))
            #expect(e.key == "header length")
        }
        #expect(try Self.error([1, 2, 3]) != nil) // shorter than the length field
        #expect(try Self.error([]) != nil)
    }

    @Test func malformedHeadersAreRejectedWithTheKey() throws {
        let cases: [(String, Int, String)] = [
            (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "a"),          // size ≠ numel·4
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, 8, "a"),          // begin > end
            (#"{"a":{"dtype":"F32","shape":[2]}}"#, 8, "a"),                              // no offsets
            (#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, 8, "a"),                       // no dtype
            (#"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, 8, "a"),                     // no shape
            (#"{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}"#, 8, "a"),          // unknown dtype
            (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, 8, "a"),        // negative dim
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}"#, 8, "a"),       // three offsets
            (#"{"a":[1,2]}"#, 8, "a"),                                                     // not an object
            (#"{"__metadata__":{"k":1}}"#, 0, "__metadata__.k"),                           // non-string metadata
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "header"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, 8, "header"),     // unterminated JSON
            (#"[1,2]"#, 0, "header"),                                                      // not an object
            (#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, 8, "a"), // overflow
        ]
        for (h, n, key) in cases {
            let e = try #require(try Self.error(Self.file(header: h, dataBytes: n)), "\(h)")
            #expect(e.key == key, "\(h) → \(e)")
        }
    }

    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"))
    func missingTensorNameThrows() throws {
        let p = try #require(Fixtures.path("vim-micro.safetensors"))
        let f = try SafeTensorsFile.read(path: p)
        let e = try #require(checkpointError { _ = try f.tensor("layers.9.mixer.nope") })
        #expect(e.key == "layers.9.mixer.nope")
        #expect(e.file == p)
    }

    @Test(.enabled(if: Fixtures.enabled, "\(Fixtures.missingReason)"))
    func seededTruncationsOfTheFixtureAllThrow() throws {
        let p = try #require(Fixtures.path("vim-micro.safetensors"))
        let full = try readBytes(p)
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = TestRNG(state: 20_240_601)
        var cuts = [0, 1, 7, 8, 9, full.count - 1]
        for _ in 0..<194 { cuts.append(rng.below(full.count)) }
        var failures: [Int] = []
        for cut in cuts {
            let path = try writeTemp(Array(full[0..<cut]), dir, "cut.safetensors")
            if checkpointError({ _ = try CheckpointReader.loadStateDict(path: path) }) == nil { failures.append(cut) }
        }
        #expect(failures.isEmpty, "truncations that loaded without error: \(failures)")
    }
}
