/*
 * builtin-ordered-set-intersect: which items of two sorted lists the other
 * list holds too.
 *
 * Argument `order`: `ascending` or `desending` (Teaclave's spelling). Inputs
 * `input_data1` and `input_data2`: one hex-encoded item per line, each list
 * sorted by byte order (non-decreasing, or non-increasing for `desending`).
 * Output `output_result<k>` gets one ASCII `0` or `1` per line of input k,
 * with no separator: `1` where the item is matched. Equal items pair off one
 * to one. The result is `<n> common items`.
 */
#include "builtin.h"

typedef struct {
    bt_str *items;
    size_t count;
} list;

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex_error(const char *input, size_t line, const char *what) {
    bt_buf m = {0};
    bt_puts(&m, what);
    bt_puts(&m, " on line ");
    bt_put_u64(&m, line);
    bt_puts(&m, " of ");
    bt_puts(&m, input);
    return bt_fail_buf(&m);
}

/* Decode every line of input `name`; false after reporting the error. */
static bool read_list(const char *name, list *out) {
    bt_str text;
    if (!bt_read_input(name, &text)) return false;
    size_t pos = 0, count = 0;
    bt_str line;
    while (bt_next_line(text, &pos, &line)) count++;
    out->items = bt_calloc(count ? count : 1, sizeof(bt_str));
    if (!out->items) return bt_fail_oom(), false;
    out->count = 0;
    for (pos = 0; bt_next_line(text, &pos, &line);) {
        if (line.len % 2) return hex_error(name, out->count + 1, "Odd number of hex digits"), false;
        char *bytes = bt_alloc(line.len / 2 + 1);
        if (!bytes) return bt_fail_oom(), false;
        for (size_t i = 0; i < line.len; i += 2) {
            int hi = hex_value(line.p[i]), lo = hex_value(line.p[i + 1]);
            if (hi < 0 || lo < 0) return hex_error(name, out->count + 1, "Invalid hex character"), false;
            bytes[i / 2] = (char)(hi << 4 | lo);
        }
        out->items[out->count++] = (bt_str){bytes, line.len / 2};
    }
    return true;
}

static bool sorted(const list *l, int direction) {
    for (size_t i = 1; i < l->count; i++)
        if (bt_str_cmp(l->items[i - 1], l->items[i]) * direction > 0) return false;
    return true;
}

int entrypoint(int argc, char *argv[]) {
    const char *order = bt_arg_str(argc, argv, "order");
    if (!order) return -1;
    int direction; /* 1: ascending, -1: descending */
    if (teabox_streq(order, "ascending")) direction = 1;
    else if (teabox_streq(order, "desending")) direction = -1;
    else return bt_fail("Invalid order (use `ascending` or `desending`)");

    list a, b;
    if (!read_list("input_data1", &a) || !read_list("input_data2", &b)) return -1;
    if (!sorted(&a, direction) || !sorted(&b, direction)) return bt_fail("Invalid ordering");

    char *marks_a = bt_alloc(a.count + 1), *marks_b = bt_alloc(b.count + 1);
    if (!marks_a || !marks_b) return bt_fail_oom();
    for (size_t i = 0; i < a.count; i++) marks_a[i] = '0';
    for (size_t j = 0; j < b.count; j++) marks_b[j] = '0';
    size_t i = 0, j = 0, common = 0;
    while (i < a.count && j < b.count) {
        int c = bt_str_cmp(a.items[i], b.items[j]) * direction;
        if (c == 0) {
            marks_a[i++] = '1';
            marks_b[j++] = '1';
            common++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    if (!bt_write_output("output_result1", marks_a, a.count)) return -1;
    if (!bt_write_output("output_result2", marks_b, b.count)) return -1;
    return bt_result_count(common, " common items");
}
