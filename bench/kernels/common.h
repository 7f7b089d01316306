/*
 * Shared by every benchmark kernel. The kernels use no libc at all, so one
 * source builds both natively (gcc -O2, the baseline) and as a freestanding
 * wasm32 payload, and the two builds run exactly the same algorithm.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

typedef unsigned int u32;
typedef unsigned long long u64;

/* Work proportional to n (see bench/workloads.py for each kernel's sizes and work model),
 * returning a checksum of everything computed so no engine can skip work
 * and every engine can be checked against the native result. */
u32 run_kernel(u32 n);

/* One FNV-1a step over a 32-bit word: a cheap, order-sensitive checksum. */
static inline u32 mix32(u32 hash, u32 word) {
    return (hash ^ word) * 16777619u;
}

#define MIX32_INIT 2166136261u

/* xorshift32: deterministic pseudo-random data, identical on every engine. */
static inline u32 xorshift32(u32 *state) {
    u32 x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

#ifdef __wasm__
#include "teabox.h"

/*
 * The payload side: teabox passes the task's arguments as sorted key/value
 * pairs, so {"n": 123} arrives as argv = ["n", "123"]. A missing or
 * malformed n makes the payload return -1 rather than run a default size.
 */
int entrypoint(int argc, char *argv[]) {
    int64_t n;
    const char *text = teabox_arg(argc, argv, "n");
    if (text == NULL || teabox_parse_i64(text, &n) != 0 || n < 0 || n > 0xFFFFFFFF) return -1;
    return (int)run_kernel((u32)n);
}

/* The same kernel called with n directly, for the engines whose embedding API
 * cannot place argv in linear memory (pywasm3's cannot grow it) or that only
 * pass integers on their command line (WAMR's `iwasm --function`). */
__attribute__((export_name("bench_run")))
int bench_run(int n) {
    return (int)run_kernel((u32)n);
}
#endif

#endif
