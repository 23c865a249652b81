// Module ouro_model: CUDA C compiled at run time by NVRTC (and for the host by EmulatedGPUDevice).
// Embedded in the binary at build time (the EmbedCUDA plugin); see GPUModelKernels.swift.
// Token rows: cls (+ pos) at clsIndex, else (patch token + bias) + pos; one thread per element.
extern "C" __global__ void ouro_embed_assemble(const float* __restrict__ tokens, const float* __restrict__ bias,
                                               const float* __restrict__ cls, const float* __restrict__ pos,
                                               float* __restrict__ seq, int B, int L, int M, int D, int ci) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * L * D) return;
    int d = (int)(i % D); size_t bt = i / D; int t = (int)(bt % L); int b = (int)(bt / L);
    if (t == ci) { seq[i] = cls[d] + pos[t * D + d]; return; }
    int p = t < ci ? t : t - 1;
    seq[i] = (tokens[((size_t)b * M + p) * D + d] + bias[d]) + pos[t * D + d];
}

// Patch-token gradients: the non-cls rows of gRes, in patch order.
extern "C" __global__ void ouro_embed_gather_grad(const float* __restrict__ gres, float* __restrict__ gt,
                                                  int B, int L, int M, int D, int ci) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * M * D) return;
    int d = (int)(i % D); size_t bp = i / D; int p = (int)(bp % M); int b = (int)(bp / M);
    int t = p < ci ? p : p + 1;
    gt[i] = gres[((size_t)b * L + t) * D + d];
}

// Row r of dst (D wide) = row (r·L + ci) of src, or the reverse copy with scatter = 1.
extern "C" __global__ void ouro_cls_rows(float* __restrict__ rows, float* __restrict__ seq, int B, int L, int D,
                                         int ci, int scatter) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * D) return;
    int b = i / D, d = i % D;
    size_t s = ((size_t)b * L + ci) * D + d;
    if (scatter) seq[s] = rows[i]; else rows[i] = seq[s];
}

// logits[b, k] += bias[k].
extern "C" __global__ void ouro_add_row_bias(float* __restrict__ x, const float* __restrict__ bias, int rows, int cols) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < rows * cols) x[i] = x[i] + bias[i % cols];
}
