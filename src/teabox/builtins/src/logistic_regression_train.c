/*
 * builtin-logistic-regression-train: binary logistic regression by batch
 * gradient descent, as rusty-machine 0.5 trains it.
 *
 * Arguments: `alg_alpha` (learning rate, > 0), `alg_iters`, `feature_size`.
 * Input `training_data`: rows of feature_size features and a 0/1 label.
 * With X' = [1 | X] and w = 0.5 everywhere, each iteration computes
 * p = sigmoid(X'w) and the cross-entropy cost, stops once the cost changes
 * by less than 1e-20, and sets w -= alpha * X'^T (p - y) / n. Output
 * `model_file`: {"alpha":..,"iters":..,"parameters":[w0,...]} (w0 is the
 * intercept). The result is `Trained <n> lines of data.`
 */
#include "builtin.h"
#include "lr_common.h"
#include "numbers.h"
#include "rows.h"

static bool arg_f64(int argc, char *argv[], const char *key, double *out) {
    const char *v = teabox_arg(argc, argv, key);
    if (!v) return bt_bad_argument(key, "is missing"), false;
    if (!num_parse_f64(v, teabox_strlen(v), out) || __builtin_isinf(*out) || *out != *out)
        return bt_bad_argument(key, "must be a number"), false;
    return true;
}

int entrypoint(int argc, char *argv[]) {
    double alpha;
    uint64_t iters, features;
    if (!arg_f64(argc, argv, "alg_alpha", &alpha) || !bt_arg_u64(argc, argv, "alg_iters", &iters) ||
        !bt_arg_u64(argc, argv, "feature_size", &features))
        return -1;
    if (!(alpha > 0)) return bt_fail("alg_alpha must be above 0");
    if (features > 1u << 20) return bt_fail("feature_size is too large");
    rows data;
    if (!rows_read("training_data", (rows_options){.width = (size_t)features + 1}, &data)) return -1;
    size_t n = data.rows, cols = (size_t)features + 1; /* X' has the 1 column, not the label */
    if (n == 0) return bt_fail("the training data has no rows");

    double *x = bt_calloc(n * cols, sizeof(double)), *y = bt_calloc(n, sizeof(double));
    double *w = bt_calloc(cols, sizeof(double)), *p = bt_calloc(n, sizeof(double));
    double *grad = bt_calloc(cols, sizeof(double));
    if (!x || !y || !w || !p || !grad) return bt_fail_oom();
    for (size_t r = 0; r < n; r++) {
        x[r * cols] = 1.0;
        for (size_t c = 0; c < features; c++) x[r * cols + 1 + c] = data.values[r * data.cols + c];
        y[r] = data.values[r * data.cols + features];
    }
    for (size_t c = 0; c < cols; c++) w[c] = 0.5;

    double previous = 0.0;
    for (uint64_t it = 0; it < iters; it++) {
        double cost = 0.0;
        for (size_t r = 0; r < n; r++) {
            p[r] = math_sigmoid(lr_dot(x + r * cols, 1, w, cols));
            cost = cost + (y[r] * math_log(p[r]) + (1.0 - y[r]) * math_log(1.0 - p[r]));
        }
        cost = -cost / (double)n;
        if (__builtin_fabs(previous - cost) < 1e-20) break;
        for (size_t r = 0; r < n; r++) p[r] = p[r] - y[r];
        for (size_t c = 0; c < cols; c++) grad[c] = lr_dot(x + c, cols, p, n) / (double)n;
        for (size_t c = 0; c < cols; c++) w[c] = w[c] - grad[c] * alpha;
        previous = cost;
    }

    bt_buf out = {0};
    char number[40];
    bt_puts(&out, "{\"alpha\":");
    bt_put(&out, number, (size_t)num_format_f64(number, alpha, NUM_JSON64));
    bt_puts(&out, ",\"iters\":");
    bt_put_u64(&out, iters);
    bt_puts(&out, ",\"parameters\":[");
    for (size_t c = 0; c < cols; c++) {
        if (c) bt_putc(&out, ',');
        if (__builtin_isinf(w[c]) || w[c] != w[c]) bt_puts(&out, "null"); /* as serde_json writes them */
        else bt_put(&out, number, (size_t)num_format_f64(number, w[c], NUM_JSON64));
    }
    bt_puts(&out, "]}");
    if (out.failed) return bt_fail_oom();
    if (!bt_write_output("model_file", out.data, out.len)) return -1;
    return bt_result_phrase("Trained ", n, " lines of data.");
}
