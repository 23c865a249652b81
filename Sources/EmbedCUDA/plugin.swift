import Foundation
import PackagePlugin

/// Build-tool plugin: embeds a target's CUDA C files (`*.cu`, excluded from the target) in the
/// binary as string constants of a generated `CUDASource` enum, so the kernels live in real
/// `.cu` files that editors and linters read as CUDA, while the portable binary stays one file.
@main
struct EmbedCUDA: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let source = target as? SourceModuleTarget else { return [] }
        let root = source.directoryURL
        var inputs: [URL] = []
        if let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.pathExtension == "cu" { inputs.append(url) }
        }
        inputs.sort { $0.path < $1.path }
        guard !inputs.isEmpty else { return [] }
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("CUDASource.swift")
        return [.buildCommand(displayName: "Embedding \(inputs.count) CUDA file(s) of \(target.name)",
                              executable: try context.tool(named: "embed-cuda").url,
                              arguments: [output.path] + inputs.map(\.path),
                              inputFiles: inputs, outputFiles: [output])]
    }
}
