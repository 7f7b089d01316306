/*
 * Decimal text <-> binary floating point, exactly as Rust printed and parsed
 * it for Teaclave's built-ins: correctly rounded parsing of f64 and f32, the
 * shortest round-trip digits (what ryu, serde_json and Rust's `{:?}` print),
 * and correctly rounded fixed notation (`%.Nf`, ties to even).
 *
 * Both directions work on exact big integers, in the manner of Clinger's
 * comparison algorithm and Burger and Dybvig's free-format printing, so
 * every result is exact rather than merely close. A value is m * 2^k with an
 * integer m: for f64 m < 2^53 and k >= -1074, for f32 m < 2^24 and k >= -149.
 */
#ifndef TEABOX_NUMBERS_H
#define TEABOX_NUMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- big unsigned integers ------------------------------------------------ */

#define BIG_LIMBS 160 /* 5120 bits: every value and scale below fits */

typedef struct {
    uint32_t limb[BIG_LIMBS]; /* little-endian */
    int used;
} big;

static void big_set(big *a, uint64_t v) {
    a->used = 0;
    while (v) {
        a->limb[a->used++] = (uint32_t)v;
        v >>= 32;
    }
}

static void big_trim(big *a) {
    while (a->used && a->limb[a->used - 1] == 0) a->used--;
}

static void big_mul_small(big *a, uint32_t m) {
    uint64_t carry = 0;
    for (int i = 0; i < a->used; i++) {
        uint64_t t = (uint64_t)a->limb[i] * m + carry;
        a->limb[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry && a->used < BIG_LIMBS) a->limb[a->used++] = (uint32_t)carry;
}

static void big_add_small(big *a, uint32_t v) {
    uint64_t carry = v;
    for (int i = 0; i < a->used && carry; i++) {
        uint64_t t = (uint64_t)a->limb[i] + carry;
        a->limb[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry && a->used < BIG_LIMBS) a->limb[a->used++] = (uint32_t)carry;
}

static void big_mul_pow5(big *a, int n) {
    for (; n >= 13; n -= 13) big_mul_small(a, 1220703125u); /* 5^13 */
    static const uint32_t p5[13] = {1, 5, 25, 125, 625, 3125, 15625, 78125, 390625, 1953125, 9765625, 48828125, 244140625};
    if (n) big_mul_small(a, p5[n]);
}

static void big_mul_pow10(big *a, int n) {
    for (; n >= 9; n -= 9) big_mul_small(a, 1000000000u);
    static const uint32_t p10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    if (n) big_mul_small(a, p10[n]);
}

static void big_shl(big *a, int bits) {
    if (!a->used || bits <= 0) return;
    int words = bits / 32, shift = bits % 32;
    int n = a->used + words + 1;
    if (n > BIG_LIMBS) n = BIG_LIMBS;
    for (int i = n - 1; i >= 0; i--) {
        int src = i - words;
        uint64_t hi = src >= 0 && src < a->used ? a->limb[src] : 0;
        uint64_t lo = src - 1 >= 0 && src - 1 < a->used ? a->limb[src - 1] : 0;
        a->limb[i] = shift ? (uint32_t)((hi << shift) | (lo >> (32 - shift))) : (uint32_t)hi;
    }
    a->used = n;
    big_trim(a);
}

static int big_cmp(const big *a, const big *b) {
    if (a->used != b->used) return a->used < b->used ? -1 : 1;
    for (int i = a->used - 1; i >= 0; i--)
        if (a->limb[i] != b->limb[i]) return a->limb[i] < b->limb[i] ? -1 : 1;
    return 0;
}

/* r = a + b */
static void big_add(big *r, const big *a, const big *b) {
    int n = a->used > b->used ? a->used : b->used;
    uint64_t carry = 0;
    for (int i = 0; i < n; i++) {
        uint64_t t = carry + (i < a->used ? a->limb[i] : 0) + (i < b->used ? b->limb[i] : 0);
        r->limb[i] = (uint32_t)t;
        carry = t >> 32;
    }
    r->used = n;
    if (carry && n < BIG_LIMBS) r->limb[r->used++] = (uint32_t)carry;
}

/* a -= b, where a >= b */
static void big_sub(big *a, const big *b) {
    int64_t borrow = 0;
    for (int i = 0; i < a->used; i++) {
        int64_t t = (int64_t)a->limb[i] - (i < b->used ? b->limb[i] : 0) - borrow;
        borrow = t < 0;
        a->limb[i] = (uint32_t)(t + (borrow << 32));
    }
    big_trim(a);
}

/* The digit floor(a / b) for a < 10b, and a %= b. */
static int big_digit(big *a, const big *b) {
    int d = 0;
    while (big_cmp(a, b) >= 0) {
        big_sub(a, b);
        d++;
    }
    return d;
}

/* ---- formats ----------------------------------------------------------------- */

typedef struct {
    int precision; /* bits of m, with the leading one: 53 or 24 */
    int kmin;      /* exponent of the smallest subnormal: -1074 or -149 */
    int kmax;      /* exponent of m at the largest finite value: 971 or 104 */
} num_format;

static const num_format NUM_F64 = {53, -1074, 971};
static const num_format NUM_F32 = {24, -149, 104};

static void num_split64(double x, uint64_t *m, int *k) {
    union { double d; uint64_t u; } v = {x};
    int e = (int)(v.u >> 52 & 0x7ff);
    uint64_t frac = v.u & ((1ull << 52) - 1);
    *m = e ? frac | 1ull << 52 : frac;
    *k = e ? e - 1075 : -1074;
}

static void num_split32(float x, uint64_t *m, int *k) {
    union { float f; uint32_t u; } v = {x};
    int e = (int)(v.u >> 23 & 0xff);
    uint32_t frac = v.u & ((1u << 23) - 1);
    *m = e ? frac | 1u << 23 : frac;
    *k = e ? e - 150 : -149;
}

static double num_join64(uint64_t m, int k) {
    union { double d; uint64_t u; } v;
    if (m == 0) return 0.0;
    if (m < 1ull << 52) v.u = m; /* subnormal: k == kmin */
    else v.u = ((uint64_t)(k + 1075) << 52) | (m & ((1ull << 52) - 1));
    return v.d;
}

static float num_join32(uint64_t m, int k) {
    union { float f; uint32_t u; } v;
    if (m == 0) return 0.0f;
    if (m < 1u << 23) v.u = (uint32_t)m;
    else v.u = ((uint32_t)(k + 150) << 23) | (uint32_t)(m & ((1u << 23) - 1));
    return v.f;
}

/* ---- parsing ------------------------------------------------------------------ */

#define NUM_MAX_DIGITS 40 /* more significant digits than this only set a sticky last digit */

typedef struct {
    char digits[NUM_MAX_DIGITS + 1];
    int count;
    int exp10; /* value = d1d2...dn * 10^exp10 */
    bool negative;
} num_decimal;

/* Compare the decimal D * 10^E with N * 2^j exactly. */
static int num_compare(const num_decimal *d, uint64_t n, int j) {
    static big left, right;
    big_set(&left, 0);
    for (int i = 0; i < d->count; i++) {
        big_mul_small(&left, 10);
        big_add_small(&left, (uint32_t)(d->digits[i] - '0'));
    }
    big_set(&right, n);
    int left2 = 0, right2 = j;
    if (d->exp10 >= 0) {
        big_mul_pow5(&left, d->exp10);
        left2 += d->exp10;
    } else {
        big_mul_pow5(&right, -d->exp10);
        right2 -= d->exp10;
    }
    if (left2 >= right2) big_shl(&left, left2 - right2);
    else big_shl(&right, right2 - left2);
    return big_cmp(&left, &right);
}

/* The format's nearest value to d, ties to even, as m * 2^k; false on overflow. */
static bool num_round(const num_decimal *d, const num_format *f, double approx, uint64_t *m, int *k) {
    if (f->precision == 53) num_split64(approx, m, k);
    else num_split32((float)approx, m, k);
    uint64_t top = 1ull << f->precision, half = top >> 1;
    for (int step = 0; step < 4096; step++) {
        /* Upper and lower midpoints as N * 2^j. */
        int up = num_compare(d, 2 * *m + 1, *k - 1);
        bool narrow = *m == half && *k > f->kmin; /* the gap below is half as wide */
        int down = *m == 0 ? 1 : narrow ? num_compare(d, 4 * *m - 1, *k - 2) : num_compare(d, 2 * *m - 1, *k - 1);
        if (up > 0 || (up == 0 && (*m & 1))) {
            if (++*m == top) {
                *m = half;
                if (++*k > f->kmax) return false;
            }
        } else if (down < 0 || (down == 0 && (*m & 1))) {
            if (narrow) {
                *m = top - 1;
                --*k;
            } else {
                --*m;
            }
        } else {
            return true;
        }
    }
    return true;
}

/* A close double to d, for num_round to correct. */
static double num_approx(const num_decimal *d) {
    double v = 0;
    int used = d->count < 19 ? d->count : 19;
    for (int i = 0; i < used; i++) v = v * 10 + (d->digits[i] - '0');
    int e = d->exp10 + (d->count - used);
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    for (; e > 22; e -= 22) v *= 1e22;
    for (; e < -22; e += 22) v /= 1e22;
    return e >= 0 ? v * p10[e] : v / p10[-e];
}

/* Parse Rust's float syntax (sign, digits, '.', exponent, inf, infinity, nan; no
 * surrounding space). Returns false when `s` is not a float. */
static bool num_parse_decimal(const char *s, size_t len, num_decimal *d, int *special) {
    size_t i = 0;
    *special = 0;
    d->negative = false;
    d->count = 0;
    d->exp10 = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) d->negative = s[i++] == '-';
    size_t rest = len - i;
    const char *r = s + i;
    /* inf, infinity and nan, case-insensitively */
    static const char *names[] = {"inf", "infinity", "nan"};
    for (int n = 0; n < 3; n++) {
        size_t nl = n == 1 ? 8 : 3;
        if (rest != nl) continue;
        bool same = true;
        for (size_t c = 0; c < nl && same; c++) same = (r[c] | 0x20) == names[n][c];
        if (same) {
            *special = n == 2 ? 2 : 1;
            return true;
        }
    }
    bool any = false, sticky = false;
    int dropped = 0; /* integer digits beyond NUM_MAX_DIGITS */
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        any = true;
        if (d->count == 0 && s[i] == '0') continue;
        if (d->count < NUM_MAX_DIGITS) d->digits[d->count++] = s[i];
        else dropped++, sticky |= s[i] != '0';
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            any = true;
            if (d->count == 0 && s[i] == '0') {
                d->exp10--;
                continue;
            }
            if (d->count < NUM_MAX_DIGITS) {
                d->digits[d->count++] = s[i];
                d->exp10--;
            } else {
                sticky |= s[i] != '0';
            }
        }
    }
    if (!any) return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool neg = false;
        if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
        if (i == len) return false;
        int64_t e = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (e < 100000) e = e * 10 + (s[i] - '0');
        d->exp10 += (int)(neg ? -e : e);
    }
    if (i != len) return false;
    d->exp10 += dropped;
    if (sticky && d->count == NUM_MAX_DIGITS) { /* stands for the dropped non-zero tail */
        d->digits[d->count++] = '1';
        d->exp10--;
    }
    return true;
}

static bool num_parse(const char *s, size_t len, const num_format *f, uint64_t *m, int *k, bool *negative,
                      int *special) {
    num_decimal d;
    if (!num_parse_decimal(s, len, &d, special)) return false;
    *negative = d.negative;
    *m = 0;
    *k = f->kmin;
    if (*special) return true;
    if (d.count == 0) return true;
    int magnitude = d.count + d.exp10; /* value < 10^magnitude */
    if (magnitude > (f->precision == 53 ? 310 : 40)) {
        *special = 1;
        return true;
    }
    if (magnitude < (f->precision == 53 ? -330 : -50)) return true;
    if (!num_round(&d, f, num_approx(&d), m, k)) *special = 1;
    return true;
}

static bool num_parse_f64(const char *s, size_t len, double *out) {
    uint64_t m;
    int k, special;
    bool negative;
    if (!num_parse(s, len, &NUM_F64, &m, &k, &negative, &special)) return false;
    double v = special == 1 ? __builtin_inf() : special == 2 ? __builtin_nan("") : num_join64(m, k);
    *out = negative ? -v : v;
    return true;
}

static bool num_parse_f32(const char *s, size_t len, float *out) {
    uint64_t m;
    int k, special;
    bool negative;
    if (!num_parse(s, len, &NUM_F32, &m, &k, &negative, &special)) return false;
    float v = special == 1 ? __builtin_inff() : special == 2 ? __builtin_nanf("") : num_join32(m, k);
    *out = negative ? -v : v;
    return true;
}

/* ---- printing -------------------------------------------------------------- */

/* Scale for digit generation: value = r / s, with mp and mm the distances to
 * the midpoints towards the neighbours (scaled the same way). */
static void num_scale(uint64_t m, int k, const num_format *f, big *r, big *s, big *mp, big *mm) {
    bool narrow = m == 1ull << (f->precision - 1) && k > f->kmin;
    big_set(r, m);
    big_set(s, 1);
    big_set(mp, 1);
    big_set(mm, 1);
    if (k >= 0) {
        big_shl(r, k + (narrow ? 2 : 1));
        big_shl(s, narrow ? 2 : 1);
        big_shl(mp, k + (narrow ? 1 : 0));
        big_shl(mm, k);
    } else {
        big_shl(r, narrow ? 2 : 1);
        big_shl(s, -k + (narrow ? 2 : 1));
        if (narrow) big_shl(mp, 1);
    }
}

/* The estimate of floor(log10(m * 2^k)) + 1, within one. */
static int num_magnitude(uint64_t m, int k) {
    int bits = 64 - __builtin_clzll(m);
    return (int)__builtin_ceil((bits + k - 1) * 0.30102999566398114 - 1e-10);
}

/* Shortest digits that read back as m * 2^k (m > 0): digits[0..n), value =
 * 0.d1d2...dn * 10^exp10. Returns n. */
static int num_shortest(uint64_t m, int k, const num_format *f, char *digits, int *exp10) {
    static big r, s, mp, mm, t;
    num_scale(m, k, f, &r, &s, &mp, &mm);
    bool even = (m & 1) == 0;
    int e = num_magnitude(m, k);
    if (e >= 0) big_mul_pow10(&s, e);
    else {
        big_mul_pow10(&r, -e);
        big_mul_pow10(&mp, -e);
        big_mul_pow10(&mm, -e);
    }
    /* Make 10^(e-1) <= high < 10^e, where high = (r + mp) / s. */
    for (;;) {
        big_add(&t, &r, &mp);
        int c = big_cmp(&t, &s);
        if (c > 0 || (c == 0 && even)) {
            big_mul_small(&s, 10);
            e++;
            continue;
        }
        big_mul_small(&t, 10);
        c = big_cmp(&t, &s);
        if (c < 0 || (c == 0 && !even)) {
            big_mul_small(&r, 10);
            big_mul_small(&mp, 10);
            big_mul_small(&mm, 10);
            e--;
            continue;
        }
        break;
    }
    int n = 0;
    for (;;) {
        big_mul_small(&r, 10);
        big_mul_small(&mp, 10);
        big_mul_small(&mm, 10);
        int d = big_digit(&r, &s);
        int lo = big_cmp(&r, &mm);
        bool tc1 = lo < 0 || (lo == 0 && even);
        big_add(&t, &r, &mp);
        int hi = big_cmp(&t, &s);
        bool tc2 = hi > 0 || (hi == 0 && even);
        if (!tc1 && !tc2) {
            digits[n++] = (char)('0' + d);
            continue;
        }
        if (tc1 && tc2) {
            big_add(&t, &r, &r);
            int c = big_cmp(&t, &s);
            if (c > 0 || (c == 0 && (d & 1))) d++;
        } else if (tc2) {
            d++;
        }
        digits[n++] = (char)('0' + d);
        break;
    }
    *exp10 = e;
    return n;
}

/* Write n digits with exponent e (value = 0.digits * 10^e) the way ryu and
 * Rust lay them out: plain when lo_exp < e <= hi_exp, with ".0" after an
 * integer; otherwise d.ddd then e and the exponent ("1e16", "1.5e-7"). */
static int num_layout(char *out, bool negative, const char *digits, int n, int e, int lo_exp, int hi_exp) {
    int len = 0;
    if (negative) out[len++] = '-';
    if (e > lo_exp && e <= hi_exp) {
        if (e <= 0) {
            out[len++] = '0';
            out[len++] = '.';
            for (int i = 0; i < -e; i++) out[len++] = '0';
            for (int i = 0; i < n; i++) out[len++] = digits[i];
        } else {
            for (int i = 0; i < e; i++) out[len++] = i < n ? digits[i] : '0';
            out[len++] = '.';
            if (n > e) for (int i = e; i < n; i++) out[len++] = digits[i];
            else out[len++] = '0';
        }
    } else {
        out[len++] = digits[0];
        if (n > 1) {
            out[len++] = '.';
            for (int i = 1; i < n; i++) out[len++] = digits[i];
        }
        out[len++] = 'e';
        int x = e - 1;
        if (x < 0) out[len++] = '-', x = -x;
        char tmp[6];
        int t = 0;
        do tmp[t++] = (char)('0' + x % 10);
        while ((x /= 10) != 0);
        while (t) out[len++] = tmp[--t];
    }
    return len;
}

/* Layout bounds on the decimal exponent e (value = 0.d * 10^e). */
#define NUM_JSON64 -5, 16 /* ryu/serde_json f64: plain for 1e-5 <= |x| < 1e16 */
#define NUM_JSON32 -6, 13 /* ryu f32: plain for 1e-6 <= |x| < 1e13 */
#define NUM_DEBUG -4, 16  /* Rust {:?}: plain for 1e-4 <= |x| < 1e16 */

/* Shortest form of a finite f64 into out (at least 32 bytes); returns its length. */
static int num_format_f64(char *out, double x, int lo_exp, int hi_exp) {
    uint64_t m;
    int k, e;
    num_split64(x, &m, &k);
    bool negative = __builtin_signbit(x);
    if (m == 0) return num_layout(out, negative, "0", 1, 1, lo_exp, hi_exp);
    char digits[20];
    int n = num_shortest(m, k, &NUM_F64, digits, &e);
    return num_layout(out, negative, digits, n, e, lo_exp, hi_exp);
}

static int num_format_f32(char *out, float x, int lo_exp, int hi_exp) {
    uint64_t m;
    int k, e;
    num_split32(x, &m, &k);
    bool negative = __builtin_signbit(x);
    if (m == 0) return num_layout(out, negative, "0", 1, 1, lo_exp, hi_exp);
    char digits[12];
    int n = num_shortest(m, k, &NUM_F32, digits, &e);
    return num_layout(out, negative, digits, n, e, lo_exp, hi_exp);
}

/* x with `places` digits after the point, correctly rounded, ties to even
 * (C's and Python's "%.*f"); out needs 330 + places bytes. Returns the length. */
static int num_format_fixed(char *out, double x, int places) {
    static big r, s, unused1, unused2, t;
    uint64_t m;
    int k;
    num_split64(x, &m, &k);
    int len = 0;
    if (__builtin_signbit(x)) out[len++] = '-';
    char digits[400];
    int e = 1, n = 0; /* value = 0.digits * 10^e */
    if (m) {
        num_scale(m, k, &NUM_F64, &r, &s, &unused1, &unused2); /* r / s = 2x/2 or 4x/4 */
        e = num_magnitude(m, k);
        if (e >= 0) big_mul_pow10(&s, e);
        else big_mul_pow10(&r, -e);
        while (big_cmp(&r, &s) >= 0) big_mul_small(&s, 10), e++;
        for (;;) { /* make r/s >= 0.1 */
            t = r;
            big_mul_small(&t, 10);
            if (big_cmp(&t, &s) >= 0) break;
            r = t;
            e--;
        }
    }
    int wanted = e + places; /* digits up to the last place */
    if (wanted > 390) wanted = 390;
    if (m && wanted >= 0) {
        for (n = 0; n < wanted; n++) {
            big_mul_small(&r, 10);
            digits[n] = (char)('0' + big_digit(&r, &s));
        }
        big_add(&t, &r, &r); /* compare the rest with one half */
        int c = big_cmp(&t, &s);
        bool last_odd = n ? (digits[n - 1] - '0') & 1 : false;
        if (c > 0 || (c == 0 && last_odd)) {
            int i = n - 1;
            while (i >= 0 && digits[i] == '9') digits[i--] = '0';
            if (i >= 0) digits[i]++;
            else { /* 99.9 -> 100.0: one more leading digit */
                for (int j = n; j > 0; j--) digits[j] = digits[j - 1];
                digits[0] = '1';
                n++;
                e++;
            }
        }
    } else {
        n = 0;
        e = -places; /* rounds to zero */
    }
    /* Digit i (0-based) stands for 10^(e-1-i): print the units and up, then `places` decimals. */
    for (int q = e - 1 > 0 ? e - 1 : 0; q >= -places; q--) {
        if (q == -1) out[len++] = '.';
        int idx = e - q - 1;
        out[len++] = idx >= 0 && idx < n ? digits[idx] : '0';
    }
    return len;
}

#endif
