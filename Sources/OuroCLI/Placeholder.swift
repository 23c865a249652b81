import ArgumentParser
/// The `ouromamba` command.
public struct OuroMambaCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "ouromamba",
        abstract: "Data-free quantization of Vision Mamba models.")
    public init() {}
}
