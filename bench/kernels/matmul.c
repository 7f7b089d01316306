/* Double-precision n x n matrix multiply (i-k-j order): floating point, memory streams. */
#include "common.h"

#define MAX_N 1024

static double a[MAX_N * MAX_N], b[MAX_N * MAX_N], c[MAX_N * MAX_N];

u32 run_kernel(u32 n) {
    if (n > MAX_N) n = MAX_N;
    for (u32 i = 0; i < n; ++i) {
        for (u32 j = 0; j < n; ++j) {
            a[i * n + j] = (double)((i * 7u + j * 3u) % 17u) / 16.0 - 0.5;
            b[i * n + j] = (double)((i * 5u + j * 11u) % 13u) / 8.0 - 0.75;
            c[i * n + j] = 0.0;
        }
    }
    for (u32 i = 0; i < n; ++i) {
        for (u32 k = 0; k < n; ++k) {
            double aik = a[i * n + k];
            for (u32 j = 0; j < n; ++j) c[i * n + j] += aik * b[k * n + j];
        }
    }
    /* Fold the exact bits of every result: any rounding difference shows. */
    u32 hash = MIX32_INIT;
    for (u32 i = 0; i < n * n; ++i) {
        union { double d; u64 bits; } v = { c[i] };
        hash = mix32(mix32(hash, (u32)v.bits), (u32)(v.bits >> 32));
    }
    return hash;
}
