/*
 * builtin_principal_components_analysis: projection onto the first principal
 * components.
 *
 * Arguments: `n` (components kept, at most feature_size), `center` (subtract
 * the column means first) and `feature_size`. Input `input_data`: rows of
 * feature_size values and one more, which is ignored (Teaclave's data carries
 * a label there). The components are the right singular vectors of the
 * (centred) data for the n largest singular values, found by one-sided Jacobi
 * rotations; each is signed so that its largest-magnitude entry is positive
 * (an SVD fixes components only up to sign). Output `output_data`: the
 * (centred) data times the components, one row per line, values in Rust's
 * `{:?}` form joined by `,`. The result is
 * `transform <rows> rows * <n> cols lines of data.`
 */
#include "builtin.h"
#include "numbers.h"
#include "rows.h"

/* Orthogonalise the columns of a (m x p, row-major) by plane rotations,
 * accumulating them into v (p x p); afterwards a's column norms are the
 * singular values and v's columns the right singular vectors. */
static void jacobi_svd(double *a, size_t m, size_t p, double *v) {
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) v[i * p + j] = i == j;
    for (int sweep = 0; sweep < 60; sweep++) {
        bool rotated = false;
        for (size_t i = 0; i + 1 < p; i++) {
            for (size_t j = i + 1; j < p; j++) {
                double alpha = 0, beta = 0, gamma = 0;
                for (size_t r = 0; r < m; r++) {
                    double x = a[r * p + i], y = a[r * p + j];
                    alpha += x * x;
                    beta += y * y;
                    gamma += x * y;
                }
                if (gamma == 0 || __builtin_fabs(gamma) <= 1e-17 * __builtin_sqrt(alpha * beta)) continue;
                rotated = true;
                double zeta = (beta - alpha) / (2 * gamma);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (__builtin_fabs(zeta) + __builtin_sqrt(1 + zeta * zeta));
                double c = 1 / __builtin_sqrt(1 + t * t), s = c * t;
                for (size_t r = 0; r < m; r++) {
                    double x = a[r * p + i], y = a[r * p + j];
                    a[r * p + i] = c * x - s * y;
                    a[r * p + j] = s * x + c * y;
                }
                for (size_t r = 0; r < p; r++) {
                    double x = v[r * p + i], y = v[r * p + j];
                    v[r * p + i] = c * x - s * y;
                    v[r * p + j] = s * x + c * y;
                }
            }
        }
        if (!rotated) break;
    }
}

int entrypoint(int argc, char *argv[]) {
    uint64_t n, features;
    bool center;
    if (!bt_arg_u64(argc, argv, "n", &n) || !bt_arg_bool(argc, argv, "center", &center) ||
        !bt_arg_u64(argc, argv, "feature_size", &features))
        return -1;
    if (features == 0 || features > 4096) return bt_fail("feature_size must be between 1 and 4096");
    if (n > features) return bt_fail("n is larger than feature_size");
    rows data;
    if (!rows_read("input_data", (rows_options){.width = (size_t)features + 1}, &data)) return -1;
    size_t m = data.rows, p = (size_t)features;
    if (m == 0) return bt_fail("the input data has no rows");

    double *x = bt_calloc(m * p, sizeof(double)), *a = bt_calloc(m * p, sizeof(double));
    double *v = bt_calloc(p * p, sizeof(double)), *norm = bt_calloc(p, sizeof(double));
    size_t *order = bt_calloc(p, sizeof(size_t));
    if (!x || !a || !v || !norm || !order) return bt_fail_oom();
    for (size_t c = 0; c < p; c++) {
        double mean = 0;
        if (center) {
            for (size_t r = 0; r < m; r++) mean += data.values[r * data.cols + c];
            mean /= (double)m;
        }
        for (size_t r = 0; r < m; r++) x[r * p + c] = a[r * p + c] = data.values[r * data.cols + c] - mean;
    }
    jacobi_svd(a, m, p, v);
    for (size_t c = 0; c < p; c++) {
        for (size_t r = 0; r < m; r++) norm[c] += a[r * p + c] * a[r * p + c];
        order[c] = c;
    }
    for (size_t i = 1; i < p; i++) /* by descending singular value, stable */
        for (size_t j = i; j > 0 && norm[order[j]] > norm[order[j - 1]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t k = 0; k < n; k++) {
        size_t c = order[k], big = 0;
        for (size_t r = 1; r < p; r++)
            if (__builtin_fabs(v[r * p + c]) > __builtin_fabs(v[big * p + c])) big = r;
        if (v[big * p + c] < 0)
            for (size_t r = 0; r < p; r++) v[r * p + c] = -v[r * p + c];
    }

    bt_buf out = {0};
    char number[48];
    for (size_t r = 0; r < m; r++) {
        for (size_t k = 0; k < n; k++) {
            double sum = 0;
            for (size_t c = 0; c < p; c++) sum += x[r * p + c] * v[c * p + order[k]];
            if (k) bt_putc(&out, ',');
            if (__builtin_isinf(sum) || sum != sum) bt_puts(&out, sum != sum ? "NaN" : sum > 0 ? "inf" : "-inf");
            else bt_put(&out, number, (size_t)num_format_f64(number, sum, NUM_DEBUG));
        }
        bt_putc(&out, '\n');
    }
    if (out.failed) return bt_fail_oom();
    if (!bt_write_output("output_data", out.data, out.len)) return -1;
    bt_buf result = {0};
    bt_puts(&result, "transform ");
    bt_put_u64(&result, m);
    bt_puts(&result, " rows * ");
    bt_put_u64(&result, n);
    bt_puts(&result, " cols lines of data.");
    return bt_result_buf(&result);
}
