#include "ouro_kernels.h"
int ouro_kernels_version(void) { return 1; }
