/// Operation counts of a Vision Mamba forward pass (per image), for compute floors.
public enum ModelCost {
    /// FLOPs (2 per multiply-add) of the GEMM-shaped work: patch embedding, in/x/dt/out
    /// projections and the head.
    public static func gemmFlops(_ c: VisionMambaConfig) -> Double {
        let L = Double(c.seqLen), D = Double(c.embedDim), E = Double(c.dInner), N = Double(c.dState), R = Double(c.dtRank)
        let embed = Double(c.numPatches) * Double(c.patchDim) * D
        let perLayer = L * (2 * E * D + E * D + 2 * (E * (R + 2 * N) + E * R))
        let head = D * Double(c.numClasses)
        return 2 * (embed + Double(c.depth) * perLayer + head)
    }

    /// FLOPs of the scans, convs and gates (not GEMM-shaped), per image.
    public static func elementwiseFlops(_ c: VisionMambaConfig) -> Double {
        let L = Double(c.seqLen), E = Double(c.dInner), N = Double(c.dState), K = Double(c.dConv)
        // Per direction: scan ≈ 6 flops per (t, e, n) plus exp; conv 2K; gates and softplus ~ 20.
        return Double(c.depth) * 2 * L * E * (6 * N + 2 * K + 20)
    }
}
