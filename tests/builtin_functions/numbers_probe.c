/*
 * Test probe for numbers.h: for each line of input `in`, the f64 it parses to
 * (as hex bits), its shortest JSON and {:?} forms, %.10f and %.4f, and the
 * same for f32; written as tab-separated lines to output `out`.
 */
#include "../../src/teabox/builtins/src/builtin.h"
#include "../../src/teabox/builtins/src/numbers.h"

static void put_hex(bt_buf *b, uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; i--) bt_putc(b, "0123456789abcdef"[(v >> (4 * i)) & 15]);
}

int entrypoint(int argc, char *argv[]) {
    (void)argc, (void)argv;
    bt_str text, line;
    if (!bt_read_input("in", &text)) return -1;
    bt_buf out = {0};
    char tmp[800];
    for (size_t pos = 0; bt_next_line(text, &pos, &line);) {
        double d;
        float f;
        if (!num_parse_f64(line.p, line.len, &d) || !num_parse_f32(line.p, line.len, &f)) {
            bt_puts(&out, "error\n");
            continue;
        }
        union { double d; uint64_t u; } du = {d};
        union { float f; uint32_t u; } fu = {f};
        put_hex(&out, du.u, 16);
        bt_putc(&out, '\t');
        bt_put(&out, tmp, (size_t)num_format_f64(tmp, d, NUM_JSON64));
        bt_putc(&out, '\t');
        bt_put(&out, tmp, (size_t)num_format_f64(tmp, d, NUM_DEBUG));
        bt_putc(&out, '\t');
        bt_put(&out, tmp, (size_t)num_format_fixed(tmp, d, 10));
        bt_putc(&out, '\t');
        bt_put(&out, tmp, (size_t)num_format_fixed(tmp, d, 4));
        bt_putc(&out, '\t');
        put_hex(&out, fu.u, 8);
        bt_putc(&out, '\t');
        if (__builtin_isinf(f)) bt_puts(&out, "inf");
        else bt_put(&out, tmp, (size_t)num_format_f32(tmp, f, NUM_JSON32));
        bt_putc(&out, '\n');
    }
    return bt_write_output("out", out.data, out.len) ? 0 : -1;
}
