/* Quicksort of n pseudo-random 32-bit integers: data-dependent branches, swaps. */
#include "common.h"

#define MAX_N (1u << 22)

static u32 values[MAX_N];

static void insertion_sort(u32 *v, u32 count) {
    for (u32 i = 1; i < count; ++i) {
        u32 x = v[i], j = i;
        while (j > 0 && v[j - 1] > x) { v[j] = v[j - 1]; --j; }
        v[j] = x;
    }
}

static void quicksort(u32 *v, u32 count) {
    while (count > 16) {
        u32 mid = count / 2, last = count - 1, t;
        /* median of three as the pivot, moved to the middle */
        if (v[mid] < v[0]) { t = v[mid]; v[mid] = v[0]; v[0] = t; }
        if (v[last] < v[0]) { t = v[last]; v[last] = v[0]; v[0] = t; }
        if (v[last] < v[mid]) { t = v[last]; v[last] = v[mid]; v[mid] = t; }
        u32 pivot = v[mid], i = 0, j = last;
        for (;;) {
            while (v[i] < pivot) ++i;
            while (v[j] > pivot) --j;
            if (i >= j) break;
            t = v[i]; v[i] = v[j]; v[j] = t;
            ++i; --j;
        }
        /* recurse into the smaller side, loop on the larger: O(log n) stack */
        u32 left = j + 1;
        if (left < count - left) {
            quicksort(v, left);
            v += left; count -= left;
        } else {
            quicksort(v + left, count - left);
            count = left;
        }
    }
    insertion_sort(v, count);
}

u32 run_kernel(u32 n) {
    u32 seed = 2463534242u, hash = MIX32_INIT;
    if (n > MAX_N) n = MAX_N;
    for (u32 i = 0; i < n; ++i) values[i] = xorshift32(&seed);
    quicksort(values, n);
    for (u32 i = 0; i < n; ++i) {
        if (i > 0 && values[i - 1] > values[i]) return 0;  /* not sorted: a wrong answer */
        hash = mix32(hash, values[i]);
    }
    return hash;
}
