/*
 * Yao's millionaire problem: two parties each provide their wealth as an
 * input; the payload names the richer one and reveals nothing else.
 *
 * Arguments (each optional; the default is shown):
 *   input_a  data name of the first party's input   (pf_in_a)
 *   input_b  data name of the second party's input  (pf_in_b)
 *   output   data name of the result                (pf_out)
 * Each input holds one decimal integer (surrounding whitespace allowed).
 *
 * The output is the data name of the richer party's input, without a
 * newline, or `equal` if they are equally rich. The result is the number of
 * bytes written. Errors: -1 an input cannot be opened or read, -2 an input
 * is not a number, -3 the output cannot be created or written.
 */
#include "teabox.h"

/* Enough for any int64_t with generous whitespace around it. */
#define MAX_INPUT_BYTES 64

static int read_wealth(const char *name, int64_t *wealth) {
    char text[MAX_INPUT_BYTES];
    int fd = teaclave_open_input(name);
    if (fd < 0) return -1;
    int n = teabox_read_all(fd, text, sizeof text);
    teaclave_close_file(fd);
    if (n < 0) return -1;
    if (n == (int)sizeof text || teabox_parse_i64_n(text, (size_t)n, wealth) != 0) return -2;
    return 0;
}

int entrypoint(int argc, char *argv[]) {
    const char *name_a = teabox_arg_or(argc, argv, "input_a", "pf_in_a");
    const char *name_b = teabox_arg_or(argc, argv, "input_b", "pf_in_b");
    const char *name_out = teabox_arg_or(argc, argv, "output", "pf_out");

    int64_t wealth_a, wealth_b;
    int status = read_wealth(name_a, &wealth_a);
    if (status == 0) status = read_wealth(name_b, &wealth_b);
    if (status != 0) return status;

    const char *verdict = wealth_a > wealth_b ? name_a : wealth_b > wealth_a ? name_b : "equal";
    int fd = teaclave_create_output(name_out);
    if (fd < 0) return -3;
    int written = teabox_write_str(fd, verdict);
    teaclave_close_file(fd);
    return written < 0 ? -3 : written;
}
