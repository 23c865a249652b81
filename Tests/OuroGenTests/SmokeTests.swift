import Testing

@Test func OuroGenTestsLoads() { #expect(Bool(true)) }
