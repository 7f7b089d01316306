/*
 * builtin-gbdt-train: gradient boosted regression trees, trained as gbdt-rs
 * 0.1 (Teaclave's fork) trains them, to the bit.
 *
 * Arguments: `feature_size`, `max_depth`, `iterations`, `shrinkage` (f32),
 * `feature_sample_ratio` and `data_sample_ratio` (f64), `min_leaf_size`,
 * `loss` (`LAD`, `SquaredError` or `LogLikelyhood`; any other name trains as
 * SquaredError) and `training_optimization_level` (kept in the model only).
 * Input `training_data`: rows of feature_size f32 features and a label.
 * Output `trained_model`: gbdt-rs's JSON model. The result is
 * `Trained <n> lines of data.`
 *
 * All values are f32, sums f64 and every weight 1. Ratios below 1.0 make each
 * tree use a sample of the rows (or features) drawn with a fixed-seed
 * generator, so unlike Teaclave's runs, a training is reproducible.
 */
#include "builtin.h"
#include "gbdt_common.h"
#include "math.h"
#include "numbers.h"
#include "rows.h"

typedef struct {
    uint32_t feature_index;
    float feature_value, pred;
    bool leaf;
    size_t left, right;
} node;

typedef struct {
    const float *x;       /* n * features */
    const float *label;
    float *residual;      /* label - F */
    float *gradient;      /* the tree's target */
    size_t features;
    uint64_t max_depth, min_leaf;
    gbdt_loss loss;
    bool *use_feature;
    node *nodes;
    size_t count, capacity;
    size_t *scratch;      /* a sorting buffer */
    float *leaf_of;       /* the value of the leaf each sample ends in */
} trainer;

static int compare_floats(float a, float b) { return a < b ? -1 : a > b; }

/* Stable merge sort of samples by `keys[sample * stride]`. */
static void sort_by(size_t *items, size_t *tmp, size_t n, const float *keys, size_t stride) {
    if (n < 2) return;
    size_t half = n / 2;
    sort_by(items, tmp, half, keys, stride);
    sort_by(items + half, tmp, n - half, keys, stride);
    size_t i = 0, j = half, k = 0;
    while (i < half && j < n)
        tmp[k++] = compare_floats(keys[items[j] * stride], keys[items[i] * stride]) < 0 ? items[j++] : items[i++];
    while (i < half) tmp[k++] = items[i++];
    while (j < n) tmp[k++] = items[j++];
    for (k = 0; k < n; k++) items[k] = tmp[k];
}

static void sort_values(float *v, float *tmp, size_t n) {
    if (n < 2) return;
    size_t half = n / 2;
    sort_values(v, tmp, half);
    sort_values(v + half, tmp, n - half);
    size_t i = 0, j = half, k = 0;
    while (i < half && j < n) tmp[k++] = v[j] < v[i] ? v[j++] : v[i++];
    while (i < half) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    for (k = 0; k < n; k++) v[k] = tmp[k];
}

/* gbdt-rs's weighted median: the first i with 2(i+1) > n of the sorted values,
 * averaged with its predecessor when i >= `average_from`. */
static float median(float *v, float *tmp, size_t n, size_t average_from) {
    sort_values(v, tmp, n);
    size_t i = 0;
    while (2 * (i + 1) <= n) i++;
    return i >= average_from ? (v[i] + v[i - 1]) / 2.0f : v[i];
}

static float node_value(trainer *t, const size_t *samples, size_t n, float *work, float *tmp) {
    if (t->loss == LOSS_LAD) {
        for (size_t i = 0; i < n; i++) work[i] = t->residual[samples[i]];
        return median(work, tmp, n, 1);
    }
    double sum = 0, denominator = 0;
    for (size_t i = 0; i < n; i++) {
        double g = t->gradient[samples[i]];
        sum += g;
        denominator += t->loss == LOSS_LOG_LIKELYHOOD ? __builtin_fabs(g) * (2.0 - __builtin_fabs(g)) : 1.0;
    }
    return (float)(sum / denominator);
}

static double sse(double s, double ss, double c) {
    if (c <= 1.0) return 0.0;
    double v = ss - s * s / c;
    return v < 0 ? 0 : v;
}

/* Build the subtree of `samples` (reordered in place); returns its node index, or SIZE_MAX when out of memory. */
static size_t build(trainer *t, size_t *samples, size_t n, uint64_t depth, float *work, float *tmp) {
    if (t->count == t->capacity) {
        size_t capacity = t->capacity ? t->capacity * 2 : 64;
        node *grown = bt_alloc(capacity * sizeof(node));
        if (!grown) return SIZE_MAX;
        for (size_t i = 0; i < t->count; i++) grown[i] = t->nodes[i];
        t->nodes = grown;
        t->capacity = capacity;
    }
    size_t index = t->count++;
    node *self = &t->nodes[index];
    *self = (node){0, 0.0f, node_value(t, samples, n, work, tmp), true, 0, 0};

    bool same = true;
    for (size_t i = 1; i < n && same; i++)
        same = __builtin_fabs((double)t->gradient[samples[i]] - (double)t->gradient[samples[0]]) < 1e-5;
    if (depth >= t->max_depth || same || n <= t->min_leaf) {
        for (size_t i = 0; i < n; i++) t->leaf_of[samples[i]] = self->pred;
        return index;
    }

    double best = __builtin_inf();
    float threshold = 0;
    size_t best_feature = 0;
    bool found = false;
    for (size_t f = 0; f < t->features; f++) {
        if (!t->use_feature[f]) continue;
        sort_by(samples, t->scratch, n, t->x + f, t->features);
        double s = 0, ss = 0;
        for (size_t i = 0; i < n; i++) {
            double g = t->gradient[samples[i]];
            s += g;
            ss += g * g;
        }
        double ls = 0, lss = 0, lc = 0, rs = s, rss = ss, rc = (double)n;
        for (size_t i = 0; i + 1 < n; i++) {
            double g = t->gradient[samples[i]];
            ls += g, lss += g * g, lc += 1;
            rs -= g, rss -= g * g, rc -= 1;
            float a = t->x[samples[i] * t->features + f], b = t->x[samples[i + 1] * t->features + f];
            if (__builtin_fabs((double)a - (double)b) < 1e-5) continue;
            double cost = sse(ls, lss, lc) + sse(rs, rss, rc);
            if (cost < best) {
                best = cost;
                threshold = (a + b) / 2.0f;
                best_feature = f;
                found = true;
            }
        }
    }
    if (!found) {
        for (size_t i = 0; i < n; i++) t->leaf_of[samples[i]] = self->pred;
        return index;
    }
    /* Partition: values below the threshold go left, in their original relative order. */
    size_t left_n = 0;
    for (size_t i = 0; i < n; i++)
        if (t->x[samples[i] * t->features + best_feature] < threshold) t->scratch[left_n++] = samples[i];
    size_t k = left_n;
    for (size_t i = 0; i < n; i++)
        if (!(t->x[samples[i] * t->features + best_feature] < threshold)) t->scratch[k++] = samples[i];
    for (size_t i = 0; i < n; i++) samples[i] = t->scratch[i];
    if (left_n == 0 || left_n == n) { /* cannot happen with a cut between distinct values; stay a leaf */
        for (size_t i = 0; i < n; i++) t->leaf_of[samples[i]] = t->nodes[index].pred;
        return index;
    }
    t->nodes[index].leaf = false;
    t->nodes[index].feature_index = (uint32_t)best_feature;
    t->nodes[index].feature_value = threshold;
    size_t left = build(t, samples, left_n, depth + 1, work, tmp);
    if (left == SIZE_MAX) return SIZE_MAX;
    size_t right = build(t, samples + left_n, n - left_n, depth + 1, work, tmp);
    if (right == SIZE_MAX) return SIZE_MAX;
    t->nodes[index].left = left - index; /* relative for now: the array is per tree */
    t->nodes[index].right = right - index;
    return index;
}

static bool arg_float(int argc, char *argv[], const char *key, bool f32, double *out) {
    const char *v = teabox_arg(argc, argv, key);
    if (!v) return bt_bad_argument(key, "is missing"), false;
    float f;
    bool ok = f32 ? num_parse_f32(v, teabox_strlen(v), &f) : num_parse_f64(v, teabox_strlen(v), out);
    if (ok && f32) *out = f;
    if (!ok || __builtin_isinf(*out) || *out != *out) return bt_bad_argument(key, "must be a number"), false;
    return true;
}

static void put_f32(bt_buf *b, float v) {
    char s[48];
    bt_put(b, s, (size_t)num_format_f32(s, v, NUM_JSON32));
}

static void put_f64(bt_buf *b, double v) {
    char s[48];
    bt_put(b, s, (size_t)num_format_f64(s, v, NUM_JSON64));
}

static const char *loss_name(gbdt_loss loss) {
    return loss == LOSS_LAD ? "LAD" : loss == LOSS_LOG_LIKELYHOOD ? "LogLikelyhood" : "SquaredError";
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Mark `keep` of `n` items, chosen uniformly (partial Fisher-Yates). */
static void sample(bool *marks, size_t *order, size_t n, size_t keep) {
    for (size_t i = 0; i < n; i++) order[i] = i, marks[i] = keep >= n;
    if (keep >= n) return;
    for (size_t i = 0; i < keep; i++) {
        size_t j = i + (size_t)(rng_next() % (n - i));
        size_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
        marks[order[i]] = true;
    }
}

int entrypoint(int argc, char *argv[]) {
    uint64_t features, max_depth, iterations, min_leaf, level;
    double shrinkage_arg, feature_ratio, data_ratio;
    const char *loss_text;
    if (!bt_arg_u64(argc, argv, "feature_size", &features) || !bt_arg_u64(argc, argv, "max_depth", &max_depth) ||
        !bt_arg_u64(argc, argv, "iterations", &iterations) ||
        !arg_float(argc, argv, "shrinkage", true, &shrinkage_arg) ||
        !arg_float(argc, argv, "feature_sample_ratio", false, &feature_ratio) ||
        !arg_float(argc, argv, "data_sample_ratio", false, &data_ratio) ||
        !bt_arg_u64(argc, argv, "min_leaf_size", &min_leaf) || !(loss_text = bt_arg_str(argc, argv, "loss")) ||
        !bt_arg_u64(argc, argv, "training_optimization_level", &level))
        return -1;
    if (max_depth > UINT32_MAX) return bt_bad_argument("max_depth", "must fit in 32 bits");
    if (level > 255) return bt_bad_argument("training_optimization_level", "must fit in 8 bits");
    if (features == 0 || features > 1u << 16) return bt_fail("feature_size must be between 1 and 65536");
    if (!(feature_ratio > 0) || feature_ratio > 1 || !(data_ratio > 0) || data_ratio > 1)
        return bt_fail("feature_sample_ratio and data_sample_ratio must be above 0 and at most 1");
    if (level >= 3) level = 2;
    float shrinkage = (float)shrinkage_arg;
    gbdt_loss loss = gbdt_loss_named((bt_str){loss_text, teabox_strlen(loss_text)});
    if (loss != LOSS_LAD && loss != LOSS_LOG_LIKELYHOOD) loss = LOSS_SQUARED_ERROR;

    rows data;
    if (!rows_read("training_data", (rows_options){.f32 = true, .width = (size_t)features + 1}, &data)) return -1;
    size_t n = data.rows, fs = (size_t)features;
    if (n == 0) return bt_fail("the training data has no rows");

    float *x = bt_calloc(n * fs, sizeof(float)), *label = bt_calloc(n, sizeof(float));
    float *F = bt_calloc(n, sizeof(float)), *residual = bt_calloc(n, sizeof(float));
    float *gradient = bt_calloc(n, sizeof(float)), *leaf_of = bt_calloc(n, sizeof(float));
    float *work = bt_calloc(n, sizeof(float)), *tmp = bt_calloc(n, sizeof(float));
    size_t *samples = bt_calloc(n, sizeof(size_t)), *scratch = bt_calloc(n > fs ? n : fs, sizeof(size_t));
    bool *use_row = bt_calloc(n, sizeof(bool)), *use_feature = bt_calloc(fs, sizeof(bool));
    if (!x || !label || !F || !residual || !gradient || !leaf_of || !work || !tmp || !samples || !scratch ||
        !use_row || !use_feature)
        return bt_fail_oom();
    for (size_t r = 0; r < n; r++) {
        for (size_t c = 0; c < fs; c++) x[r * fs + c] = (float)data.values[r * data.cols + c];
        label[r] = (float)data.values[r * data.cols + fs];
    }

    float bias;
    if (loss == LOSS_LAD) {
        for (size_t r = 0; r < n; r++) work[r] = label[r];
        bias = median(work, tmp, n, 2);
    } else {
        double sum = 0;
        for (size_t r = 0; r < n; r++) sum += label[r];
        double mean = sum / (double)n;
        bias = loss == LOSS_LOG_LIKELYHOOD ? (float)(0.5 * math_log((1 + mean) / (1 - mean))) : (float)mean;
    }
    for (size_t r = 0; r < n; r++) F[r] = bias;

    trainer t = {x, label, residual, gradient, fs, max_depth, min_leaf, loss, use_feature, NULL, 0, 0, scratch,
                 leaf_of};
    bt_buf model = {0};
    bt_puts(&model, "{\"conf\":{\"feature_size\":");
    bt_put_u64(&model, features);
    bt_puts(&model, ",\"max_depth\":");
    bt_put_u64(&model, max_depth);
    bt_puts(&model, ",\"iterations\":");
    bt_put_u64(&model, iterations);
    bt_puts(&model, ",\"shrinkage\":");
    put_f32(&model, shrinkage);
    bt_puts(&model, ",\"feature_sample_ratio\":");
    put_f64(&model, feature_ratio);
    bt_puts(&model, ",\"data_sample_ratio\":");
    put_f64(&model, data_ratio);
    bt_puts(&model, ",\"min_leaf_size\":");
    bt_put_u64(&model, min_leaf);
    bt_puts(&model, ",\"loss\":\"");
    bt_puts(&model, loss_name(loss));
    bt_puts(&model, "\",\"debug\":false,\"initial_guess_enabled\":false,\"training_optimization_level\":");
    bt_put_u64(&model, level);
    bt_puts(&model, "},\"trees\":[");

    size_t keep_rows = (size_t)(data_ratio * (double)n), keep_features = (size_t)(feature_ratio * (double)fs);
    if (keep_rows < 1) keep_rows = 1;
    if (keep_features < 1) keep_features = 1;
    for (uint64_t it = 0; it < iterations; it++) {
        for (size_t r = 0; r < n; r++) {
            residual[r] = label[r] - F[r];
            if (loss == LOSS_LAD) gradient[r] = residual[r] >= 0 ? 1.0f : -1.0f;
            else if (loss == LOSS_SQUARED_ERROR) gradient[r] = residual[r];
            else gradient[r] = (float)(2.0 * label[r] / (1.0 + math_exp(2.0 * label[r] * F[r])));
        }
        sample(use_row, samples, n, keep_rows);
        sample(use_feature, scratch, fs, keep_features);
        size_t m = 0;
        for (size_t r = 0; r < n; r++)
            if (use_row[r]) samples[m++] = r;
        for (size_t r = 0; r < n; r++) leaf_of[r] = 0;
        t.count = 0;
        if (build(&t, samples, m, 0, work, tmp) == SIZE_MAX) return bt_fail_oom();
        /* Rows left out of the sample still move: by the leaf they fall into. */
        for (size_t r = 0; r < n; r++) {
            float value;
            if (use_row[r]) {
                value = leaf_of[r];
            } else {
                size_t at = 0;
                while (!t.nodes[at].leaf)
                    at += x[r * fs + t.nodes[at].feature_index] < t.nodes[at].feature_value ? t.nodes[at].left
                                                                                           : t.nodes[at].right;
                value = t.nodes[at].pred;
            }
            F[r] = F[r] + shrinkage * value;
        }

        if (it) bt_putc(&model, ',');
        bt_puts(&model, "{\"tree\":{\"tree\":[");
        for (size_t i = 0; i < t.count; i++) {
            node *nd = &t.nodes[i];
            if (i) bt_putc(&model, ',');
            bt_puts(&model, "{\"value\":{\"feature_index\":");
            bt_put_u64(&model, nd->leaf ? 0 : nd->feature_index);
            bt_puts(&model, ",\"feature_value\":");
            put_f32(&model, nd->leaf ? 0.0f : nd->feature_value);
            bt_puts(&model, ",\"pred\":");
            put_f32(&model, nd->pred);
            bt_puts(&model, ",\"missing\":0,\"is_leaf\":");
            bt_puts(&model, nd->leaf ? "true" : "false");
            bt_puts(&model, "},\"index\":");
            bt_put_u64(&model, i);
            bt_puts(&model, ",\"left\":");
            bt_put_u64(&model, nd->leaf ? 0 : i + nd->left);
            bt_puts(&model, ",\"right\":");
            bt_put_u64(&model, nd->leaf ? 0 : i + nd->right);
            bt_putc(&model, '}');
        }
        bt_puts(&model, "]},\"feature_size\":");
        bt_put_u64(&model, features);
        bt_puts(&model, ",\"max_depth\":");
        bt_put_u64(&model, max_depth);
        bt_puts(&model, ",\"min_leaf_size\":");
        bt_put_u64(&model, min_leaf);
        bt_puts(&model, ",\"loss\":\"");
        bt_puts(&model, loss_name(loss));
        bt_puts(&model, "\",\"feature_sample_ratio\":");
        put_f64(&model, feature_ratio);
        bt_putc(&model, '}');
        if (model.failed) return bt_fail_oom();
    }
    bt_puts(&model, "],\"bias\":");
    put_f32(&model, bias);
    bt_putc(&model, '}');
    if (model.failed) return bt_fail_oom();
    if (!bt_write_output("trained_model", model.data, model.len)) return -1;
    return bt_result_phrase("Trained ", n, " lines of data.");
}
