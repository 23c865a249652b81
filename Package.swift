// swift-tools-version:6.1
import PackageDescription

// Release builds target AVX2/FMA (every machine this runs on has them: see docs/architecture.md).
let fast: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"], .when(configuration: .release)),
]
let v6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "OuroMamba",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ouromamba", targets: ["ouromamba"]),
        .library(name: "OuroModel", targets: ["OuroModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // System libraries through module maps.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZMQ", path: "Sources/CZMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),

        // Integer GEMM kernels (AVX2 with runtime dispatch, plus a portable path).
        .target(name: "COuroKernels", path: "Sources/COuroKernels",
                cSettings: [.unsafeFlags(["-O3"])]),
        // JPEG (libjpeg-turbo) and PNG (libpng) decoding behind status codes, not longjmp.
        .target(name: "CImageCodecs", path: "Sources/CImageCodecs", exclude: ["README.md"],
                cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),

        // Internal utilities without dependencies: SHA-256, JSON, durable atomic writes, the
        // deterministic parallel-for, the lock box and the progress line.
        .target(name: "OuroSupport", exclude: ["README.md"], swiftSettings: fast + v6),
        // Float32 SIMD kernels of the engine (selective scan), AVX2 and AVX-512 with run-time dispatch.
        .target(name: "CFloatKernels", path: "Sources/CFloatKernels", exclude: ["README.md"],
                cSettings: [.unsafeFlags(["-O3"])]),

        // Build tool: embeds a target's .cu files as string constants (`CUDASource`), so the
        // kernels are real CUDA files and the binary stays one file.
        .executableTarget(name: "embed-cuda", path: "Sources/embed-cuda"),
        .plugin(name: "EmbedCUDA", capability: .buildTool(), dependencies: ["embed-cuda"], path: "Sources/EmbedCUDA"),

        // engine: tensors, BLAS, vector math, threading and the backend seam.
        .target(name: "OuroEngine", dependencies: ["CBLAS", "CFloatKernels", "OuroSupport"], exclude: ["README.md", "GPU/ouro_ops.cu"],
                swiftSettings: fast + v6, plugins: ["EmbedCUDA"]),
        // Checkpoint formats: safetensors, torch zip + pickle (parsed, never executed).
        .target(name: "OuroCheckpoint", dependencies: ["OuroSupport"], exclude: ["README.md"], swiftSettings: fast + v6),
        // Vision Mamba: config, weights, forward and backward.
        .target(name: "OuroModel", dependencies: ["OuroSupport", "OuroEngine", "OuroCheckpoint"], exclude: ["README.md", "GPU/ouro_model.cu"],
                swiftSettings: fast + v6, plugins: ["EmbedCUDA"]),
        // Datasets (Fashion-MNIST IDX gzip, image folders, file lists), evaluation transforms, PNG output.
        .target(name: "OuroData", dependencies: ["CZlib", "CImageCodecs", "OuroEngine", "OuroSupport"], exclude: ["README.md"], swiftSettings: fast + v6),
        // Training: AdamW, schedules, the training loop.
        .target(name: "OuroTrain", dependencies: ["OuroEngine", "OuroCheckpoint", "OuroModel", "OuroData"], exclude: ["README.md"], swiftSettings: fast + v6),
        // OuroMamba-Gen: synthetic calibration images.
        .target(name: "OuroGen", dependencies: ["OuroSupport", "OuroEngine", "OuroCheckpoint", "OuroModel", "OuroData"], exclude: ["README.md", "GPU/ouro_gen_contrastive.cu"],
                swiftSettings: fast + v6, plugins: ["EmbedCUDA"]),
        // OuroMamba-Quant: quantizers, calibration, simulated and integer inference.
        .target(name: "OuroQuant", dependencies: ["CBLAS", "OuroSupport", "OuroEngine", "OuroModel", "OuroCheckpoint", "COuroKernels"],
                exclude: ["README.md", "Kernels/README.md", "GPU/ouro_mpgemm.cu", "GPU/ouro_calibration.cu"],
                swiftSettings: fast + v6, plugins: ["EmbedCUDA"]),
        // Cluster runtime, payload-agnostic: ZeroMQ protocol, coordinator, worker, journal, security.
        .target(name: "OuroCluster", dependencies: ["CZMQ", "OuroSupport", .product(name: "Logging", package: "swift-log")],
                exclude: ["README.md"], swiftSettings: fast + v6),
        // The pipeline: job plan, calibration sources, phases as tasks, one driver over a shard
        // executor (in-process, local worker processes, the ZeroMQ cluster).
        .target(name: "OuroPipeline", dependencies: ["OuroSupport", "OuroCheckpoint", "OuroEngine", "OuroModel", "OuroData", "OuroGen",
                                                     "OuroQuant", "OuroCluster", .product(name: "Logging", package: "swift-log")],
                exclude: ["README.md"], swiftSettings: fast + v6),
        // The command-line interface.
        .target(name: "OuroCLI", dependencies: [
            "OuroEngine", "OuroCheckpoint", "OuroModel", "OuroData", "OuroTrain", "OuroGen", "OuroQuant",
            "OuroCluster", "OuroPipeline", "OuroSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["README.md"], swiftSettings: fast + v6),
        .executableTarget(name: "ouromamba", dependencies: ["OuroCLI", "OuroEngine"], swiftSettings: fast + v6),

        // Shared test helpers (fixture lookup, comparisons).
        .target(name: "OuroTestSupport", dependencies: ["OuroSupport", "OuroEngine", "OuroCheckpoint", "OuroModel",
                                                  .product(name: "Logging", package: "swift-log")],
                path: "Sources/OuroTestSupport", exclude: ["README.md"], swiftSettings: v6),

        .testTarget(name: "OuroEngineTests", dependencies: ["OuroSupport", "OuroEngine", "OuroTestSupport"], swiftSettings: fast + v6),
        .testTarget(name: "OuroCheckpointTests", dependencies: ["OuroCheckpoint", "OuroSupport", "OuroTestSupport"], swiftSettings: fast + v6),
        .testTarget(name: "OuroModelTests", dependencies: ["OuroEngine", "OuroModel", "OuroTestSupport"], swiftSettings: fast + v6),
        // Goldens/ holds PIL-made image goldens, read from the source tree (#filePath), not bundled.
        .testTarget(name: "OuroDataTests", dependencies: ["OuroEngine", "OuroData", "OuroTestSupport"], exclude: ["Goldens"], swiftSettings: fast + v6),
        .testTarget(name: "OuroQuantTests", dependencies: ["OuroSupport", "OuroEngine", "OuroCheckpoint", "OuroModel", "OuroQuant", "COuroKernels", "OuroTestSupport"], swiftSettings: fast + v6),
        .testTarget(name: "OuroGenTests", dependencies: ["OuroEngine", "OuroModel", "OuroGen", "OuroTestSupport"], swiftSettings: fast + v6),
        .testTarget(name: "OuroTrainTests", dependencies: ["OuroEngine", "OuroModel", "OuroData", "OuroTrain", "OuroTestSupport"], swiftSettings: fast + v6),
        .testTarget(name: "OuroClusterTests", dependencies: ["OuroSupport", "OuroCluster", .product(name: "Logging", package: "swift-log"), "OuroTestSupport"], swiftSettings: fast + v6),
        .testTarget(name: "OuroPipelineTests", dependencies: ["OuroSupport", "OuroEngine", "OuroCheckpoint", "OuroModel", "OuroGen", "OuroQuant",
                                                          "OuroPipeline", "OuroCluster", .product(name: "Logging", package: "swift-log"), "OuroTestSupport"], swiftSettings: fast + v6),
        .testTarget(name: "OuroCLITests", dependencies: ["OuroCLI", "OuroData", "OuroCheckpoint", "OuroTestSupport"], swiftSettings: fast + v6),
    ]
)
