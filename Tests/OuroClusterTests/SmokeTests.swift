import Testing

@Test func OuroClusterTestsLoads() { #expect(Bool(true)) }
