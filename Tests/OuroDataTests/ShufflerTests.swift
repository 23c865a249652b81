import OuroData
import OuroEngine
import Testing

@Suite struct ShufflerTests {
    @Test func epochOrderIsADeterministicPermutation() throws {
        let a = try Shuffler.epochOrder(count: 1000, seed: 42, epoch: 3)
        #expect(a == (try Shuffler.epochOrder(count: 1000, seed: 42, epoch: 3)))
        #expect(a.sorted() == Array(0..<1000))
        #expect(a != Array(0..<1000))
        var rng = Xoshiro256StarStar(seed: 42, stream: 3)
        #expect(a == rng.permutation(1000))  // the documented construction
    }

    @Test func epochsAndSeedsDiffer() throws {
        let e0 = try Shuffler.epochOrder(count: 500, seed: 1, epoch: 0)
        let e1 = try Shuffler.epochOrder(count: 500, seed: 1, epoch: 1)
        let s2 = try Shuffler.epochOrder(count: 500, seed: 2, epoch: 0)
        #expect(e0 != e1 && e0 != s2 && e1 != s2)
        #expect(e1.sorted() == Array(0..<500))
        #expect(try Shuffler.epochOrder(count: 0, seed: 1, epoch: 0).isEmpty)
        #expect(throws: DataError.self) { try Shuffler.epochOrder(count: -1, seed: 1, epoch: 0) }
        #expect(throws: DataError.self) { try Shuffler.epochOrder(count: 5, seed: 1, epoch: -1) }
    }

    @Test func seededSubsetIsAPrefixOfOnePermutation() throws {
        let s10 = try Shuffler.seededSubset(count: 10, of: 60_000, seed: 7)
        let s128 = try Shuffler.seededSubset(count: 128, of: 60_000, seed: 7)
        #expect(Array(s128.prefix(10)) == s10)
        #expect(Set(s128).count == 128 && s128.allSatisfy { (0..<60_000).contains($0) })
        #expect(s10 != (try Shuffler.seededSubset(count: 10, of: 60_000, seed: 8)))
        var rng = Xoshiro256StarStar(seed: 7)
        #expect(s128 == Array(rng.permutation(60_000).prefix(128)))
        #expect(try Shuffler.seededSubset(count: 5, of: 5, seed: 1).sorted() == [0, 1, 2, 3, 4])
        let e = #expect(throws: DataError.self) { try Shuffler.seededSubset(count: 6, of: 5, seed: 1) }
        #expect(e?.message.contains("6 of 5") == true)
    }
}
