/*
 * What logistic regression training and prediction share: rulinalg's dot
 * product, whose summation order decides the last bits of every result, and
 * the sigmoid.
 */
#ifndef TEABOX_LR_COMMON_H
#define TEABOX_LR_COMMON_H

#include <stddef.h>

#include "math.h"

/* x . y with x's elements `stride` apart: eight partial sums by index mod 8
 * over the whole blocks of eight, combined s0 s4 s1 s5 s2 s6 s3 s7, then the
 * tail added in order (rulinalg 0.4's utils::dot). */
static double lr_dot(const double *x, size_t stride, const double *y, size_t n) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t blocks = n / 8 * 8, i = 0;
    for (; i < blocks; i += 8)
        for (int j = 0; j < 8; j++) s[j] = s[j] + x[(i + j) * stride] * y[i + j];
    double sum = 0;
    static const int order[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    for (int j = 0; j < 8; j++) sum = sum + s[order[j]];
    for (; i < n; i++) sum = sum + x[i * stride] * y[i];
    return sum;
}

#endif
