/*
 * builtin-gbdt-predict: predictions of a gbdt-rs model.
 *
 * Input `model_file`: the JSON model builtin-gbdt-train writes. Input
 * `data_file`: rows of f32 features, each value trimmed (an empty one is
 * `Empty feature`). For each row, F = bias; every tree is walked from its
 * node 0 (a leaf gives its `pred`; otherwise left when x[feature_index] <
 * feature_value, right otherwise, and a value equal to f32::MIN follows
 * `missing`: -1 left, 0 this node's pred, 1 right) and adds shrinkage * value
 * in f32. LogLikelyhood models give 1/(1+e^-2F), BinaryLogistic and
 * RegLogistic 1/(1+e^-F), others F. Output `result_file`: one `%.10f` line
 * per row. The result is `Predict result has <n> lines of data.`
 */
#include "builtin.h"
#include "gbdt_common.h"
#include "json.h"
#include "math.h"
#include "numbers.h"
#include "rows.h"

typedef struct {
    uint64_t feature_index, left, right;
    int missing;
    float feature_value, pred;
    bool leaf;
} node;

typedef struct {
    node *nodes;
    size_t count;
} tree;

static const char *missing_field;

static json *field(json *object, const char *key, json_kind kind) {
    json *v = json_get(object, key);
    if (!v || v->kind != kind) {
        missing_field = key;
        return NULL;
    }
    return v;
}

static bool field_f32(json *object, const char *key, float *out) {
    json *v = field(object, key, JSON_NUMBER);
    if (v && num_parse_f32(v->text.p, v->text.len, out)) return true;
    missing_field = key;
    return false;
}

static bool field_u64(json *object, const char *key, uint64_t *out) {
    json *v = field(object, key, JSON_NUMBER);
    if (!v) return false;
    uint64_t n = 0;
    for (size_t i = 0; i < v->text.len; i++) {
        char c = v->text.p[i];
        if (c < '0' || c > '9' || n > UINT64_MAX / 10 - 1) {
            missing_field = key;
            return false;
        }
        n = n * 10 + (uint64_t)(c - '0');
    }
    *out = n;
    return true;
}

static bool field_int(json *object, const char *key, int *out) {
    json *v = field(object, key, JSON_NUMBER);
    if (!v) return false;
    if (v->text.len == 2 && v->text.p[0] == '-' && v->text.p[1] == '1') *out = -1;
    else if (v->text.len == 1 && (v->text.p[0] == '0' || v->text.p[0] == '1')) *out = v->text.p[0] - '0';
    else return missing_field = key, false;
    return true;
}

static bool read_tree(json *item, tree *out) {
    json *outer = field(item, "tree", JSON_OBJECT), *list = outer ? field(outer, "tree", JSON_ARRAY) : NULL;
    if (!list || list->count == 0) return missing_field = missing_field ? missing_field : "tree", false;
    out->count = list->count;
    out->nodes = bt_calloc(list->count, sizeof(node));
    if (!out->nodes) return missing_field = "(out of memory)", false;
    for (size_t i = 0; i < list->count; i++) {
        json *entry = &list->items[i], *value = field(entry, "value", JSON_OBJECT);
        node *nd = &out->nodes[i];
        uint64_t index;
        json *leaf;
        if (!value || !field_u64(value, "feature_index", &nd->feature_index) ||
            !field_f32(value, "feature_value", &nd->feature_value) || !field_f32(value, "pred", &nd->pred) ||
            !field_int(value, "missing", &nd->missing) || !(leaf = field(value, "is_leaf", JSON_BOOL)) ||
            !field_u64(entry, "index", &index) || !field_u64(entry, "left", &nd->left) ||
            !field_u64(entry, "right", &nd->right))
            return false;
        nd->leaf = leaf->truth;
        if (index != i || (!nd->leaf && (nd->left >= list->count || nd->right >= list->count)))
            return missing_field = "index", false;
    }
    return true;
}

int entrypoint(int argc, char *argv[]) {
    (void)argc, (void)argv;
    bt_str text;
    if (!bt_read_input("model_file", &text)) return -1;
    const char *error = NULL;
    json *model = json_parse(text, &error);
    if (!model) {
        bt_buf m = {0};
        bt_puts(&m, "the model file is not JSON: ");
        bt_puts(&m, error);
        return bt_fail_buf(&m);
    }
    json *conf = field(model, "conf", JSON_OBJECT), *trees_json = field(model, "trees", JSON_ARRAY), *loss_json;
    float shrinkage, bias;
    if (!conf || !trees_json || !field_f32(conf, "shrinkage", &shrinkage) || !field_f32(model, "bias", &bias) ||
        !(loss_json = field(conf, "loss", JSON_STRING)))
        goto bad_model;
    gbdt_loss loss = gbdt_loss_named(loss_json->text);
    tree *trees = bt_calloc(trees_json->count ? trees_json->count : 1, sizeof(tree));
    if (!trees) return bt_fail_oom();
    for (size_t i = 0; i < trees_json->count; i++)
        if (!read_tree(&trees_json->items[i], &trees[i])) goto bad_model;

    rows data;
    if (!rows_read("data_file", (rows_options){.f32 = true, .trim_values = true}, &data)) return -1;
    bt_buf out = {0};
    char number[400];
    for (size_t r = 0; r < data.rows; r++) {
        const double *x = data.values + r * data.cols;
        float F = bias;
        for (size_t i = 0; i < trees_json->count; i++) {
            const tree *t = &trees[i];
            size_t at = 0;
            float value;
            for (size_t steps = 0;; steps++) {
                const node *nd = &t->nodes[at];
                if (nd->leaf || steps > t->count) {
                    value = nd->pred;
                    break;
                }
                if (nd->feature_index >= data.cols) {
                    bt_buf m = {0};
                    bt_puts(&m, "row ");
                    bt_put_u64(&m, r + 1);
                    bt_puts(&m, " of data_file has ");
                    bt_put_u64(&m, data.cols);
                    bt_puts(&m, " features, but the model uses feature ");
                    bt_put_u64(&m, nd->feature_index);
                    return bt_fail_buf(&m);
                }
                float v = (float)x[nd->feature_index];
                if (v == -__FLT_MAX__ && nd->missing == 0) {
                    value = nd->pred;
                    break;
                }
                bool left = v == -__FLT_MAX__ ? nd->missing < 0 : v < nd->feature_value;
                at = left ? nd->left : nd->right;
            }
            F = F + shrinkage * value;
        }
        if (loss == LOSS_LOG_LIKELYHOOD) F = (float)(1.0 / (1.0 + math_exp(-2.0 * F)));
        else if (loss == LOSS_LOGISTIC) F = (float)(1.0 / (1.0 + math_exp(-(double)F)));
        bt_put(&out, number, (size_t)num_format_fixed(number, F, 10));
        bt_putc(&out, '\n');
    }
    if (out.failed) return bt_fail_oom();
    if (!bt_write_output("result_file", out.data, out.len)) return -1;
    return bt_result_phrase("Predict result has ", data.rows, " lines of data.");

bad_model: {
    bt_buf m = {0};
    bt_puts(&m, "the model file is not a GBDT model: `");
    bt_puts(&m, missing_field ? missing_field : "?");
    bt_puts(&m, "` is missing or malformed");
    return bt_fail_buf(&m);
}
}
