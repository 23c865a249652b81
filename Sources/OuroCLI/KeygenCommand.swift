import ArgumentParser
import Foundation
import OuroCluster

/// `ouromamba keygen`: a CURVE key pair for a coordinator or a worker.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub (public).",
        discussion: """
        Give the coordinator its .key and the .pub files of its workers (--allow, one file per \
        worker or concatenated); give each worker its own .key and the coordinator's .pub \
        (--server-key).

        Example:
          ouromamba keygen --out keys --name coordinator && ouromamba keygen \\
              --out keys --name node1
        """)

    @Option(name: .long, help: "Directory for the key files (created if needed).") var out: String
    @Option(name: .long, help: "Base name of the key files.") var name = "ouromamba"
    @Flag(name: .long, help: "Overwrite existing key files.") var force = false

    func validate() throws {
        guard !name.isEmpty, !name.contains("/") else { throw ValidationError("--name must be a plain file name") }
    }

    func run() throws {
        let dir = URL(fileURLWithPath: out)
        let secret = dir.appendingPathComponent("\(name).key"), pub = dir.appendingPathComponent("\(name).pub")
        for f in [secret, pub] where !force && FileManager.default.fileExists(atPath: f.path) {
            throw CLIError("\(f.path) exists (use --force to overwrite)")
        }
        try clusterCLI {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let pair = try KeyPair.generate()
            try? FileManager.default.removeItem(at: secret)
            try pair.save(to: secret)
            try pair.savePublicKey(to: pub)
            print("wrote \(secret.path) (secret) and \(pub.path) (public key \(pair.publicKey))")
        }
    }
}
