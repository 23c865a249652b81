import Testing

@Test func OuroModelTestsLoads() { #expect(Bool(true)) }
