/*
 * Drives the file API for the host-call benchmark.
 *   mode=read:  read input "input" to its end in chunks of `size` bytes;
 *               returns the bytes read (the host checks it against the file).
 *   mode=write: write `count` chunks of `size` bytes to output "output";
 *               returns the bytes written.
 * Any refusal by the host (-1) makes the payload return -1.
 */
#include "teabox.h"

#define MAX_CHUNK (1 << 20)

static unsigned char chunk[MAX_CHUNK];

static int64_t argument(int argc, char *argv[], const char *key) {
    int64_t value;
    const char *text = teabox_arg(argc, argv, key);
    if (text == NULL || teabox_parse_i64(text, &value) != 0) return -1;
    return value;
}

int entrypoint(int argc, char *argv[]) {
    const char *mode = teabox_arg_or(argc, argv, "mode", "");
    int64_t size = argument(argc, argv, "size"), count = argument(argc, argv, "count");
    int64_t total = 0;
    if (size < 1 || size > MAX_CHUNK) return -1;
    if (teabox_streq(mode, "read")) {
        int fd = teaclave_open_input("input");
        if (fd < 0) return -1;
        for (;;) {
            int got = teaclave_read_file(fd, chunk, (int)size);
            if (got < 0) return -1;
            if (got == 0) break;
            total += got;
        }
        teaclave_close_file(fd);
    } else if (teabox_streq(mode, "write")) {
        int fd = teaclave_create_output("output");
        if (fd < 0 || count < 0) return -1;
        for (int64_t i = 0; i < count; ++i) {
            chunk[i & (MAX_CHUNK - 1)] = (unsigned char)i;  /* the data changes from call to call */
            if (teaclave_write_file(fd, chunk, (int)size) != size) return -1;
            total += size;
        }
        teaclave_close_file(fd);
    } else {
        return -1;
    }
    return (int)total;
}
