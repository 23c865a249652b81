import ArgumentParser
import Foundation

/// The `ouromamba` command.
public struct OuroMambaCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ouromamba",
        abstract: "Data-free quantization of Vision Mamba models (OuroMamba).",
        discussion: """
        Examples:
          ouromamba eval --json   # FP top-1 of the embedded model on Fashion-MNIST
          ouromamba infer --model M.pth --input x.safetensors --output y.safetensors
          ouromamba bench forward --model vim-tiny-shape.pth --batch 8
        """,
        subcommands: [InferCommand.self, EvalCommand.self, TrainCommand.self, GenerateCommand.self, QuantizeCommand.self,
                      CompareCommand.self, InspectCommand.self, BenchCommand.self, CoordinatorCommand.self, WorkerCommand.self,
                      KeygenCommand.self])

    public init() {}

    /// Entry point with the project's exit codes: 0 ok, 1 failure, 2 usage error.
    public static func runMain(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if code == .validationFailure || error is ValidationError {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            // ArgumentParser prefixes other errors with "Error: "; the project's prefix is "error: ".
            var message = fullMessage(for: error)
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            FileHandle.standardError.write(Data("error: \(message.isEmpty ? String(describing: error) : message)\n".utf8))
            Foundation.exit(1)
        }
    }
}

/// A runtime failure with a message for the user (exit status 1).
public struct CLIError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
