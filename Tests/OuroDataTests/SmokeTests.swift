import Testing

@Test func OuroDataTestsLoads() { #expect(Bool(true)) }
