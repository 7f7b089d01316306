/*
 * builtin-ordered-set-join: a merge join of two CSV tables sorted on their
 * key columns.
 *
 * Arguments: `left_column` and `right_column` (0-based key columns),
 * `ascending` (the tables' sort order) and `drop` (leave the left key out of
 * the output). Inputs `input_data1` and `input_data2`: CSV without a header,
 * `,` separated, `"` quoted, every record as wide as the first; empty lines
 * are skipped. Keys compare as byte strings. Sortedness is assumed, as in
 * Teaclave. For each pair of equal keys the output `output_result` gets the
 * left record (without its key if `drop`) followed by the right record
 * without its key; both sides then advance. Fields are quoted only when they
 * hold `,`, `"`, CR or LF. The result is `<count> records`.
 */
#include "builtin.h"

typedef struct {
    bt_str *fields; /* count * width, row-major */
    size_t count, width;
} table;

static int csv_error(const char *input, size_t record, const char *what) {
    bt_buf m = {0};
    bt_puts(&m, "CSV error in ");
    bt_puts(&m, input);
    bt_puts(&m, ", record ");
    bt_put_u64(&m, record);
    bt_puts(&m, ": ");
    bt_puts(&m, what);
    return bt_fail_buf(&m);
}

/* Parse one field at *pos (which is at its start); *end_of_record set when a
 * record terminator or the end of the text follows it. */
static bool parse_field(bt_str text, size_t *pos, bt_buf *field, bool *end_of_record, bool *bad_quote) {
    size_t i = *pos;
    field->len = 0;
    if (i < text.len && text.p[i] == '"') {
        i++;
        for (;;) {
            if (i >= text.len) {
                *bad_quote = true;
                return false;
            }
            char c = text.p[i++];
            if (c == '"') {
                if (i < text.len && text.p[i] == '"') {
                    bt_putc(field, '"');
                    i++;
                } else {
                    break;
                }
            } else {
                bt_putc(field, c);
            }
        }
        /* After the closing quote, the csv crate keeps any text up to the delimiter. */
    }
    while (i < text.len && text.p[i] != ',' && text.p[i] != '\n' && text.p[i] != '\r') bt_putc(field, text.p[i++]);
    if (i < text.len && text.p[i] == ',') {
        *end_of_record = false;
        i++;
    } else {
        *end_of_record = true;
        if (i < text.len && text.p[i] == '\r') i++;
        if (i < text.len && text.p[i] == '\n') i++;
    }
    *pos = i;
    return !field->failed;
}

static bool read_table(const char *name, table *out) {
    bt_str text;
    if (!bt_read_input(name, &text)) return false;
    bt_buf cells = {0}; /* of bt_str */
    size_t pos = 0, count = 0, width = 0;
    while (pos < text.len) {
        if (text.p[pos] == '\n' || text.p[pos] == '\r') { /* an empty line */
            pos++;
            continue;
        }
        size_t fields = 0;
        bool end = false;
        while (!end) {
            bt_buf field = {0};
            bool bad_quote = false;
            if (!parse_field(text, &pos, &field, &end, &bad_quote)) {
                if (bad_quote) return csv_error(name, count + 1, "a quoted field is not closed"), false;
                return bt_fail_oom(), false;
            }
            bt_str cell = {field.data, field.len};
            bt_put(&cells, &cell, sizeof cell);
            fields++;
        }
        if (count == 0) {
            width = fields;
        } else if (fields != width) {
            bt_buf m = {0};
            bt_puts(&m, "found record with ");
            bt_put_u64(&m, fields);
            bt_puts(&m, " fields, but the previous record has ");
            bt_put_u64(&m, width);
            bt_puts(&m, " fields");
            bt_putc(&m, '\0');
            return csv_error(name, count + 1, m.failed ? "wrong width" : m.data), false;
        }
        count++;
    }
    if (cells.failed) return bt_fail_oom(), false;
    out->fields = (bt_str *)cells.data;
    out->count = count;
    out->width = width;
    return true;
}

static void put_field(bt_buf *out, bt_str field, bool alone) {
    bool quote = alone && field.len == 0;
    for (size_t i = 0; i < field.len && !quote; i++) {
        char c = field.p[i];
        quote = c == ',' || c == '"' || c == '\r' || c == '\n';
    }
    if (!quote) {
        bt_put(out, field.p, field.len);
        return;
    }
    bt_putc(out, '"');
    for (size_t i = 0; i < field.len; i++) {
        if (field.p[i] == '"') bt_putc(out, '"');
        bt_putc(out, field.p[i]);
    }
    bt_putc(out, '"');
}

/* Append `row` without column `skip` (none when skip >= width) to the record being written. */
static void put_row(bt_buf *out, const bt_str *row, size_t width, size_t skip, size_t *written, size_t total) {
    for (size_t c = 0; c < width; c++) {
        if (c == skip) continue;
        if ((*written)++) bt_putc(out, ',');
        put_field(out, row[c], total == 1);
    }
}

int entrypoint(int argc, char *argv[]) {
    uint64_t left_column, right_column;
    bool ascending, drop;
    if (!bt_arg_u64(argc, argv, "left_column", &left_column) || !bt_arg_u64(argc, argv, "right_column", &right_column) ||
        !bt_arg_bool(argc, argv, "ascending", &ascending) || !bt_arg_bool(argc, argv, "drop", &drop))
        return -1;
    table left, right;
    if (!read_table("input_data1", &left)) return -1;
    if (left.count == 0) return bt_fail("input1 is empty");
    if (!read_table("input_data2", &right)) return -1;
    if (right.count == 0) return bt_fail("input2 is empty");
    if (left_column >= left.width || right_column >= right.width) return bt_fail("invalid index");

    size_t left_skip = drop ? (size_t)left_column : left.width;
    size_t total = left.width - (drop ? 1 : 0) + right.width - 1;
    bt_buf out = {0};
    size_t i = 0, j = 0, joined = 0;
    while (i < left.count && j < right.count) {
        const bt_str *l = left.fields + i * left.width, *r = right.fields + j * right.width;
        int c = bt_str_cmp(l[left_column], r[right_column]);
        if (c == 0) {
            size_t written = 0;
            put_row(&out, l, left.width, left_skip, &written, total);
            put_row(&out, r, right.width, (size_t)right_column, &written, total);
            bt_putc(&out, '\n');
            joined++;
            i++;
            j++;
        } else if ((c < 0) == ascending) {
            i++;
        } else {
            j++;
        }
    }
    if (out.failed) return bt_fail_oom();
    if (!bt_write_output("output_result", out.data, out.len)) return -1;
    return bt_result_count(joined, " records");
}
