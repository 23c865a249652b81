import Testing

@Test func OuroEngineTestsLoads() { #expect(Bool(true)) }
