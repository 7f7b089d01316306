/* Boyer-Moore-Horspool search of n patterns in 4 KiB of DNA-like text: byte loads, table lookups. */
#include "common.h"

#define TEXT_BYTES (1u << 12)
#define PATTERN_BYTES 12u

static unsigned char text[TEXT_BYTES];

static u32 count_matches(const unsigned char *pattern, u32 m) {
    u32 shift[256], count = 0;
    for (u32 i = 0; i < 256; ++i) shift[i] = m;
    for (u32 i = 0; i + 1 < m; ++i) shift[pattern[i]] = m - 1 - i;
    for (u32 pos = 0; pos + m <= TEXT_BYTES; pos += shift[text[pos + m - 1]]) {
        u32 k = m;
        while (k > 0 && text[pos + k - 1] == pattern[k - 1]) --k;
        if (k == 0) ++count;
    }
    return count;
}

u32 run_kernel(u32 n) {
    static const unsigned char alphabet[4] = {'A', 'C', 'G', 'T'};
    unsigned char pattern[PATTERN_BYTES];
    u32 seed = 88172645u, hash = MIX32_INIT;
    for (u32 i = 0; i < TEXT_BYTES; ++i) text[i] = alphabet[xorshift32(&seed) >> 30];
    for (u32 round = 0; round < n; ++round) {
        /* half the patterns are cut from the text, so matches are found */
        u32 from = xorshift32(&seed) % (TEXT_BYTES - PATTERN_BYTES);
        for (u32 i = 0; i < PATTERN_BYTES; ++i) {
            pattern[i] = (round & 1u) ? text[from + i] : alphabet[xorshift32(&seed) >> 30];
        }
        hash = mix32(hash, count_matches(pattern, PATTERN_BYTES));
    }
    return hash;
}
