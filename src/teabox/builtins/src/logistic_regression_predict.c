/*
 * builtin-logistic-regression-predict: probabilities from a trained model.
 *
 * Input `model_file`: the JSON model that builtin-logistic-regression-train
 * writes (its `parameters`, the intercept first). Input `data_file`: rows of
 * exactly (parameters - 1) features. Output `result_file`: sigmoid(w0 +
 * w . x) for each row, as `%.4f` lines. The result is
 * `Predicted <n> lines of data.`
 */
#include "builtin.h"
#include "json.h"
#include "lr_common.h"
#include "numbers.h"
#include "rows.h"

int entrypoint(int argc, char *argv[]) {
    (void)argc, (void)argv;
    bt_str model_text;
    if (!bt_read_input("model_file", &model_text)) return -1;
    const char *error = NULL;
    json *model = json_parse(model_text, &error);
    if (!model) {
        bt_buf m = {0};
        bt_puts(&m, "the model file is not JSON: ");
        bt_puts(&m, error);
        return bt_fail_buf(&m);
    }
    json *params = json_get(model, "parameters");
    if (!params || params->kind != JSON_ARRAY || params->count < 1)
        return bt_fail("the model file has no `parameters` array of numbers");
    size_t cols = params->count;
    double *w = bt_calloc(cols, sizeof(double));
    if (!w) return bt_fail_oom();
    for (size_t c = 0; c < cols; c++) {
        json *v = &params->items[c];
        if (v->kind != JSON_NUMBER || !num_parse_f64(v->text.p, v->text.len, &w[c]))
            return bt_fail("the model file's `parameters` must all be numbers");
    }
    rows data;
    if (!rows_read("data_file", (rows_options){.width = cols - 1}, &data)) return -1;

    double *row = bt_calloc(cols, sizeof(double));
    if (!row) return bt_fail_oom();
    bt_buf out = {0};
    char number[400];
    row[0] = 1.0;
    for (size_t r = 0; r < data.rows; r++) {
        for (size_t c = 1; c < cols; c++) row[c] = data.values[r * data.cols + c - 1];
        bt_put(&out, number, (size_t)num_format_fixed(number, math_sigmoid(lr_dot(row, 1, w, cols)), 4));
        bt_putc(&out, '\n');
    }
    if (out.failed) return bt_fail_oom();
    if (!bt_write_output("result_file", out.data, out.len)) return -1;
    return bt_result_phrase("Predicted ", data.rows, " lines of data.");
}
