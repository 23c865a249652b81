#ifndef OURO_KERNELS_H
#define OURO_KERNELS_H
/// Integer GEMM kernels for OuroMamba-Quant (see Sources/COuroKernels/README.md).
int ouro_kernels_version(void);
#endif
