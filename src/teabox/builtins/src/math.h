/*
 * exp and log for the built-ins, in double-double arithmetic (about 100 bits)
 * and then rounded once, so they return the correctly rounded result in all
 * but astronomically rare cases: what glibc's exp and log return, which is
 * what Teaclave's Rust code computed with.
 */
#ifndef TEABOX_MATH_H
#define TEABOX_MATH_H

#include <stdint.h>

typedef struct {
    double hi, lo;
} dd;

static dd dd_two_sum(double a, double b) {
    double s = a + b, v = s - a;
    return (dd){s, (a - (s - v)) + (b - v)};
}

static dd dd_quick_sum(double a, double b) {
    double s = a + b;
    return (dd){s, b - (s - a)};
}

static void dd_split(double a, double *hi, double *lo) {
    double t = 134217729.0 * a; /* 2^27 + 1 */
    *hi = t - (t - a);
    *lo = a - *hi;
}

static dd dd_two_prod(double a, double b) {
    double p = a * b, ah, al, bh, bl;
    dd_split(a, &ah, &al);
    dd_split(b, &bh, &bl);
    return (dd){p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}

static dd dd_add(dd a, dd b) {
    dd s = dd_two_sum(a.hi, b.hi), t = dd_two_sum(a.lo, b.lo);
    s.lo += t.hi;
    s = dd_quick_sum(s.hi, s.lo);
    s.lo += t.lo;
    return dd_quick_sum(s.hi, s.lo);
}

static dd dd_mul(dd a, dd b) {
    dd p = dd_two_prod(a.hi, b.hi);
    p.lo += a.hi * b.lo + a.lo * b.hi;
    return dd_quick_sum(p.hi, p.lo);
}

static dd dd_div_small(dd a, double n) {
    double q1 = a.hi / n;
    dd back = dd_two_prod(q1, n);
    dd r = dd_add(a, (dd){-back.hi, -back.lo});
    double q2 = r.hi / n;
    return dd_quick_sum(q1, q2);
}

static double math_ldexp(double x, int k) {
    union { double d; uint64_t u; } s;
    while (k > 1000) x *= 0x1p1000, k -= 1000;
    while (k < -1000) x *= 0x1p-1000, k += 1000;
    s.u = (uint64_t)(k + 1023) << 52;
    return x * s.d;
}

static const dd MATH_LN2 = {0x1.62e42fefa39efp-1, 0x1.abc9e3b39803fp-56};

/* e^r for |r| <= 0.35, as a double-double: Taylor series, Horner form. */
static dd dd_exp_small(dd r) {
    dd p = {1.0, 0.0};
    for (int n = 27; n >= 1; n--) p = dd_add((dd){1.0, 0.0}, dd_div_small(dd_mul(r, p), (double)n));
    return p;
}

static dd dd_exp(dd x, int *k) {
    double kd = __builtin_round(x.hi / MATH_LN2.hi);
    *k = (int)kd;
    dd kl = dd_mul((dd){kd, 0.0}, MATH_LN2);
    dd r = dd_add(x, (dd){-kl.hi, -kl.lo});
    return dd_exp_small(r);
}

static double math_exp(double x) {
    if (x != x) return x;
    if (x > 709.8) return __builtin_inf();
    if (x < -745.2) return 0.0;
    int k;
    dd e = dd_exp((dd){x, 0.0}, &k);
    return math_ldexp(e.hi + e.lo, k);
}

/* log(x): a double estimate, then two Newton steps y += x e^-y - 1 in double-double. */
static double math_log(double x) {
    if (x != x || x < 0) return __builtin_nan("");
    if (x == 0) return -__builtin_inf();
    if (__builtin_isinf(x)) return x;
    union { double d; uint64_t u; } v = {x};
    int e = (int)(v.u >> 52 & 0x7ff);
    if (e == 0) return math_log(x * 0x1p54) - 54 * MATH_LN2.hi - 54 * MATH_LN2.lo;
    e -= 1023;
    v.u = (v.u & ((1ull << 52) - 1)) | (1023ull << 52); /* mantissa in [1, 2) */
    double m = v.d, t = (m - 1) / (m + 1), t2 = t * t;
    double y0 = e * MATH_LN2.hi + 2 * t * (1 + t2 / 3 + t2 * t2 / 5 + t2 * t2 * t2 / 7 + t2 * t2 * t2 * t2 / 9);
    dd y = {y0, 0.0};
    for (int i = 0; i < 2; i++) {
        int k;
        dd ey = dd_exp((dd){-y.hi, -y.lo}, &k); /* e^-y = ey * 2^k */
        dd xe = dd_mul((dd){math_ldexp(x, k), 0.0}, ey); /* x 2^k is near 1: exact */
        y = dd_add(y, dd_add(xe, (dd){-1.0, 0.0}));
    }
    return y.hi + y.lo;
}

static double math_sigmoid(double z) { return 1.0 / (1.0 + math_exp(-z)); }

#endif
