/* Segmented sieve of Eratosthenes counting the primes below n: strided byte stores, branches. */
#include "common.h"

#define SEGMENT 32768u
#define MAX_N 0xF0000000u     /* keeps lo + SEGMENT below 2^32 */
#define ROOT_LIMIT 65536u     /* sqrt(2^32): enough base primes for any n */

static unsigned char small_composite[ROOT_LIMIT];
static u32 base_primes[6600]; /* there are 6542 primes below 65536 */
static unsigned char segment[SEGMENT];

static u32 collect_base_primes(u32 root) {
    u32 count = 0;
    for (u32 i = 0; i < root; ++i) small_composite[i] = 0;
    for (u32 i = 2; i < root; ++i) {
        if (small_composite[i]) continue;
        base_primes[count++] = i;
        for (u32 j = i * i; j < root; j += i) small_composite[j] = 1;
    }
    return count;
}

u32 run_kernel(u32 n) {
    if (n > MAX_N) n = MAX_N;
    u32 root = 2;
    while (root < ROOT_LIMIT && (u64)root * root < n) ++root;
    u32 base_count = collect_base_primes(root + 1);
    u32 primes = 0, hash = MIX32_INIT;
    for (u32 lo = 2; lo < n; lo += SEGMENT) {
        u32 hi = n - lo < SEGMENT ? n : lo + SEGMENT;
        for (u32 i = 0; i < hi - lo; ++i) segment[i] = 0;
        for (u32 k = 0; k < base_count; ++k) {
            u32 p = base_primes[k];
            if ((u64)p * p >= hi) break;
            u32 start = (lo + p - 1) / p * p;
            if (start < p * p) start = p * p;
            for (u32 j = start; j < hi; j += p) segment[j - lo] = 1;
        }
        for (u32 i = 0; i < hi - lo; ++i) primes += !segment[i];
        hash = mix32(hash, primes);  /* where the primes are, not only how many */
    }
    return mix32(hash, primes);
}
