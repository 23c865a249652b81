import OuroSupport
import Testing
@testable import OuroCluster

@Suite struct ResultChecksumTests {
    @Test func resultChecksumSeesFrameBoundaries() {
        let a = TaskResult.checksum(of: [Frame([1, 2]), Frame([3])])
        let b = TaskResult.checksum(of: [Frame([1]), Frame([2, 3])])
        #expect(a != b)
        #expect(SHA256.isHexDigest(a))
    }
}
