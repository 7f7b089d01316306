/*
 * Numeric data files of the built-ins: one row per line, values separated by
 * ',', each line trimmed and an empty line refused ("Empty line"), each value
 * parsed exactly as Rust parses an f64 or f32.
 */
#ifndef TEABOX_ROWS_H
#define TEABOX_ROWS_H

#include "builtin.h"
#include "numbers.h"

typedef struct {
    double *values; /* rows * cols, row-major (f32 data is stored widened, exactly) */
    size_t rows, cols;
} rows;

typedef struct {
    bool f32;          /* parse each value as f32 rather than f64 */
    bool trim_values;  /* trim each value, and refuse an empty one ("Empty feature") */
    size_t width;      /* required values per row; 0: as many as the first row */
} rows_options;

static bool rows_error(const char *input, size_t line, const char *what, bt_str detail) {
    bt_buf m = {0};
    bt_puts(&m, what);
    if (detail.len) {
        bt_puts(&m, " `");
        bt_put(&m, detail.p, detail.len < 64 ? detail.len : 64);
        bt_puts(&m, "`");
    }
    bt_puts(&m, " on line ");
    bt_put_u64(&m, line);
    bt_puts(&m, " of ");
    bt_puts(&m, input);
    bt_fail_buf(&m);
    return false;
}

/* Read input `name` into `out`; false after reporting the error. */
static bool rows_read(const char *name, rows_options options, rows *out) {
    bt_str text, line;
    if (!bt_read_input(name, &text)) return false;
    bt_buf values = {0};
    size_t count = 0, width = options.width;
    for (size_t pos = 0; bt_next_line(text, &pos, &line);) {
        line = bt_trim(line);
        if (!line.len) return rows_error(name, count + 1, "Empty line", (bt_str){0});
        size_t fields = 0, start = 0;
        for (size_t i = 0; i <= line.len; i++) {
            if (i < line.len && line.p[i] != ',') continue;
            bt_str field = {line.p + start, i - start};
            start = i + 1;
            if (options.trim_values) {
                field = bt_trim(field);
                if (!field.len) return rows_error(name, count + 1, "Empty feature", (bt_str){0});
            }
            double v;
            float f;
            bool ok = options.f32 ? num_parse_f32(field.p, field.len, &f) : num_parse_f64(field.p, field.len, &v);
            if (!ok) return rows_error(name, count + 1, "invalid float literal", field);
            if (options.f32) v = (double)f;
            bt_put(&values, &v, sizeof v);
            fields++;
        }
        if (width == 0) width = fields;
        if (fields != width) {
            bt_buf m = {0};
            bt_puts(&m, "Data format error: column len = ");
            bt_put_u64(&m, fields);
            bt_puts(&m, ", expected = ");
            bt_put_u64(&m, width);
            bt_putc(&m, '\0');
            return rows_error(name, count + 1, m.failed ? "Data format error" : m.data, (bt_str){0});
        }
        count++;
    }
    if (values.failed) return bt_fail_oom(), false;
    out->values = (double *)values.data;
    out->rows = count;
    out->cols = width;
    return true;
}

#endif
