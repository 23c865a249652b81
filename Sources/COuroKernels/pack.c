// Weight layouts: 4-bit storage (nibbles) and the microkernel layout.
#include "internal.h"

int ouro_kpad(int K) { return ouro_roundup(K < 1 ? 1 : K, 4); }

size_t ouro_kernel_pack_size(int N, int K) {
    return (size_t)ouro_roundup(N, OURO_NR) * (size_t)ouro_kpad(K);
}

int ouro_int4_row_bytes(int K) { return ouro_roundup((K + 1) / 2, 16); }

int ouro_pack_int4(const int8_t *q, int N, int K, uint8_t *out) {
    const int rb = ouro_int4_row_bytes(K);
    memset(out, 0, (size_t)rb * (size_t)N);
    for (int o = 0; o < N; o++) {
        for (int k = 0; k < K; k++) {
            int v = q[(size_t)o * K + k];
            if (v < -8 || v > 7) return -1;
            uint8_t nib = (uint8_t)(v & 0x0F);
            out[(size_t)o * rb + k / 2] |= (k & 1) ? (uint8_t)(nib << 4) : nib;
        }
    }
    return 0;
}

void ouro_unpack_int4(const uint8_t *packed, int N, int K, int8_t *out) {
    const int rb = ouro_int4_row_bytes(K);
    for (int o = 0; o < N; o++) {
        for (int k = 0; k < K; k++) {
            uint8_t byte = packed[(size_t)o * rb + k / 2];
            int nib = (k & 1) ? (byte >> 4) : (byte & 0x0F);
            out[(size_t)o * K + k] = (int8_t)(nib >= 8 ? nib - 16 : nib); // sign-extend
        }
    }
}

void ouro_pack_kernel(const int8_t *q, int N, int K, int bits, uint8_t *out) {
    const int G = ouro_kpad(K) / 4, P = ouro_roundup(N, OURO_NR) / OURO_NR;
    // 4-bit weights are stored +8 (0..15) so they can be vpmaddubsw's unsigned operand.
    const int off = bits == 4 ? 8 : 0;
    for (int p = 0; p < P; p++)
        for (int g = 0; g < G; g++)
            for (int h = 0; h < 2; h++)
                for (int j = 0; j < 8; j++)
                    for (int i = 0; i < 4; i++) {
                        int o = p * OURO_NR + 8 * h + j, k = 4 * g + i;
                        int v = (o < N && k < K) ? q[(size_t)o * K + k] : 0;
                        out[((size_t)p * G + g) * 64 + 32 * h + 4 * j + i] = (uint8_t)(int8_t)(v + off);
                    }
}
