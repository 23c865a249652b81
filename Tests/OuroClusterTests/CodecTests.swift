import OuroSupport
import Foundation
import Testing
@testable import OuroCluster

@Suite struct CodecTests {
    let limits = WireLimits(maxMessageBytes: 64 << 10, maxMetadataBytes: 4 << 10, maxBinaryFrames: 8)

    func wire(_ header: String = "OMQ/1", _ command: String = "HEARTBEAT", _ meta: String = #"{"frame_sizes":[]}"#,
              _ frames: [Frame] = []) -> [Frame] {
        [Frame(header), Frame(command), Frame(meta)] + frames
    }

    func decodeError(_ frames: [Frame]) -> ProtocolError? {
        do {
            _ = try ProtocolMessage.decode(frames[...], limits: limits)
            return nil
        } catch let e as ProtocolError {
            return e
        } catch {
            return .badField("unexpected error type \(error)")
        }
    }

    @Test func taskRoundTrip() throws {
        let spec = TaskSpec(id: "t1", phase: "gen", attempt: 2, requiredModel: "abc", metadata: ["layer": 3, "x": [1, 2.5]],
                            frames: [Frame(copyingElementsOf: [Float](repeating: 1.5, count: 600)), Frame()])
        let frames = try ProtocolMessage.task(spec, JobContext(jobId: "j", configurationHash: "h")).encode()
        #expect(frames[0].string == "OMQ/1")
        #expect(frames[1].string == "TASK")
        guard case .task(let back, let job) = try ProtocolMessage.decode(frames[...], limits: limits) else {
            Issue.record("not a task")
            return
        }
        #expect(back.id == "t1" && back.phase == "gen" && back.attempt == 2 && back.requiredModel == "abc")
        #expect(back.metadata == spec.metadata)
        #expect(back.frames == spec.frames)
        #expect(job == JobContext(jobId: "j", configurationHash: "h"))
    }

    @Test func resultAndErrorRoundTrip() throws {
        let r = TaskResult(taskId: "t", phase: "p", attempt: 1, metadata: ["a": "b"], frames: [Frame([1, 2, 3])], workerId: "w")
        guard case .result(let back) = try ProtocolMessage.decode(try ProtocolMessage.result(r).encode()[...], limits: limits) else {
            Issue.record("not a result")
            return
        }
        #expect(back.checksum == r.checksum && back.isIntact && back.workerId == "w")
        let e = TaskErrorReport(taskId: "t", phase: "p", attempt: 3, errorClass: .system, message: "oops")
        guard case .error(let eb) = try ProtocolMessage.decode(try ProtocolMessage.error(e).encode()[...], limits: limits) else {
            Issue.record("not an error")
            return
        }
        #expect(eb == e)
    }

    @Test func rejectsVersionCommandAndJSONProblems() {
        #expect(decodeError(wire("OMQ/2")) == .unsupportedVersion("OMQ/2"))
        #expect(decodeError(wire("HTTP/1.1")) == .badHeader)
        #expect(decodeError(wire("OMQ/1", "EXPLODE")) == .unknownCommand("EXPLODE"))
        #expect(decodeError(wire("OMQ/1", "HEARTBEAT", "{not json")) == .metadataNotJSON)
        #expect(decodeError(wire("OMQ/1", "HEARTBEAT", "[1,2]")) == .metadataNotObject)
        #expect(decodeError([Frame("OMQ/1")]) == .tooFewFrames(1))
        #expect(decodeError(wire("OMQ/1", "HEARTBEAT", "{\"pad\":\"" + String(repeating: "x", count: 5000) + "\"}"))
                == .metadataTooLarge(8 + 5000 + 2))
    }

    @Test func rejectsFramesThatDisagreeWithMetadata() {
        if case .frameMismatch = decodeError(wire("OMQ/1", "HEARTBEAT", "{}")) {} else { Issue.record("missing frame_sizes accepted") }
        if case .frameMismatch = decodeError(wire("OMQ/1", "HEARTBEAT", #"{"frame_sizes":[3]}"#)) {} else { Issue.record("count") }
        if case .frameMismatch = decodeError(wire("OMQ/1", "HEARTBEAT", #"{"frame_sizes":[3]}"#, [Frame([1, 2])])) {} else {
            Issue.record("size")
        }
        let many = [Frame](repeating: Frame([1]), count: 9)
        let meta = #"{"frame_sizes":[1,1,1,1,1,1,1,1,1]}"#
        #expect(decodeError(wire("OMQ/1", "HEARTBEAT", meta, many)) == .tooManyFrames(9))
        let big = Frame([UInt8](repeating: 0, count: 70_000))
        #expect(decodeError(wire("OMQ/1", "HEARTBEAT", #"{"frame_sizes":[70000]}"#, [big])) == .messageTooLarge(70_000 + "OMQ/1".utf8.count + "HEARTBEAT".utf8.count + #"{"frame_sizes":[70000]}"#.utf8.count))
    }

    @Test func rejectsBadFields() {
        let badAttempt = #"{"frame_sizes":[],"task_id":"t","phase":"p","attempt":0}"#
        if case .badField = decodeError(wire("OMQ/1", "TASK", badAttempt)) {} else { Issue.record("attempt 0 accepted") }
        let badChecksum = #"{"frame_sizes":[],"task_id":"t","phase":"p","attempt":1,"checksum":"xyz"}"#
        if case .badField = decodeError(wire("OMQ/1", "RESULT", badChecksum)) {} else { Issue.record("bad checksum accepted") }
        let badClass = #"{"frame_sizes":[],"task_id":"t","phase":"p","attempt":1,"class":"cosmic"}"#
        if case .badField = decodeError(wire("OMQ/1", "ERROR", badClass)) {} else { Issue.record("bad class accepted") }
    }

    /// Random frames never trap the decoder.
    @Test func randomGarbageNeverTraps() {
        var rng = SystemRandomNumberGenerator()
        var rejected = 0
        for _ in 0..<2000 {
            let n = Int.random(in: 0...6, using: &rng)
            var frames = (0..<n).map { _ in Frame((0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
            if n >= 3, Bool.random(using: &rng) {
                frames[0] = Frame("OMQ/1")
                frames[1] = Frame(Command.allCases.randomElement(using: &rng)?.rawValue ?? "TASK")
            }
            if decodeError(frames) != nil { rejected += 1 }
        }
        #expect(rejected == 2000)
    }

    @Test func jsonValueNumbersCompareNumerically() throws {
        let v: JSONValue = ["a": 1, "b": 2.5, "c": [true, nil, "s"]]
        let back = try JSONCoding.decode(JSONValue.self, from: try JSONCoding.encode(v))
        #expect(back == v)
        #expect(JSONValue.int(2) == JSONValue.double(2))
        #expect(JSONValue.int(2) != JSONValue.string("2"))
    }
}
