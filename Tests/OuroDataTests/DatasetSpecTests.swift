import OuroData
import Testing

@Suite struct DatasetSpecTests {
    @Test func parsesNameAndDirectory() throws {
        #expect(try DatasetSpec(parsing: "fashion-mnist") == .fashionMNIST(directory: "/usr/share/datasets/fashion-mnist"))
        #expect(try DatasetSpec(parsing: "fashion-mnist:/data/fm") == .fashionMNIST(directory: "/data/fm"))
        // Only the first colon separates: directories may contain colons.
        #expect(try DatasetSpec(parsing: "fashion-mnist:/a:b") == .fashionMNIST(directory: "/a:b"))
    }

    @Test func descriptionRoundTrips() throws {
        for text in ["fashion-mnist", "fashion-mnist:/data/fm"] {
            let spec = try DatasetSpec(parsing: text)
            #expect(spec.description == text)
            #expect(try DatasetSpec(parsing: spec.description) == spec)
        }
    }

    @Test func rejectsBadSpecs() {
        let unknown = #expect(throws: DataError.self) { try DatasetSpec(parsing: "mnist:/x") }
        #expect(unknown?.message.contains("unknown dataset \"mnist\"") == true)
        #expect(unknown?.message.contains("fashion-mnist") == true)
        #expect(throws: DataError.self) { try DatasetSpec(parsing: "fashion-mnist:") }
        #expect(throws: DataError.self) { try DatasetSpec(parsing: "") }
        #expect(throws: DataError.self) { try DatasetSpec(parsing: "Fashion-MNIST") }
    }
}
