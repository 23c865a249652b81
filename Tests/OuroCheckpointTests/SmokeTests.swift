import Testing

@Test func OuroCheckpointTestsLoads() { #expect(Bool(true)) }
