/*
 * Test probe for jpeg.h: decodes input `in` and writes to output `out` the
 * width and height (two little-endian u32) followed by the grey image, or
 * fails with the decoder's message.
 */
#include "../../src/teabox/builtins/src/builtin.h"
#include "../../src/teabox/builtins/src/jpeg.h"

int entrypoint(int argc, char *argv[]) {
    (void)argc, (void)argv;
    bt_str data;
    if (!bt_read_input("in", &data)) return -1;
    int width, height;
    const char *error = NULL;
    uint8_t *grey = jpeg_decode_grey((const uint8_t *)data.p, data.len, &width, &height, &error);
    if (!grey) return bt_fail(error);
    uint8_t head[8];
    for (int i = 0; i < 4; i++) head[i] = (uint8_t)((uint32_t)width >> (8 * i)), head[4 + i] = (uint8_t)((uint32_t)height >> (8 * i));
    bt_buf out = {0};
    bt_put(&out, head, 8);
    bt_put(&out, grey, (size_t)width * (size_t)height);
    if (out.failed) return bt_fail_oom();
    return bt_write_output("out", out.data, out.len) ? 0 : -1;
}
