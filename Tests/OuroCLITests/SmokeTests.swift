import Testing

@Test func OuroCLITestsLoads() { #expect(Bool(true)) }
