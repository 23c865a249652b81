import Testing

@Test func OuroQuantTestsLoads() { #expect(Bool(true)) }
