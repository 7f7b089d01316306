/*
 * A payload written the way Teaclave's C examples were: it includes
 * teaclave_context.h, defines its own strlen/atoi/memset, reads its argument
 * values at fixed positions of argv, and zero-initialises buffers (which the
 * compiler turns into memset calls).
 *
 * Arguments: input_file_id, output_file_id (sorted by key, so their values
 * are argv[1] and argv[3]). The input holds one integer per line; the output
 * gets "count=N sum=S". The result is the sum.
 */
#include "teaclave_context.h"

#define BUF_SIZE 4096

int strlen(char *s) {
    int n = 0;
    while (s[n]) n++;
    return n;
}

int atoi(char *s) {
    int sign = 1, value = 0;
    if (*s == '-') {
        sign = -1;
        s++;
    }
    while (*s >= '0' && *s <= '9') value = value * 10 + (*s++ - '0');
    return sign * value;
}

void *memset(void *dst, int c, unsigned long n) {
    unsigned char *p = dst;
    while (n--) *p++ = (unsigned char)c;
    return dst;
}

static int itoa(int value, char *out) {
    char tmp[16] = {0};
    int n = 0, len = 0;
    unsigned int v = value < 0 ? -(unsigned int)value : (unsigned int)value;
    do {
        tmp[n++] = '0' + v % 10;
        v /= 10;
    } while (v);
    if (value < 0) out[len++] = '-';
    while (n) out[len++] = tmp[--n];
    out[len] = 0;
    return len;
}

int entrypoint(int argc, char *argv[]) {
    if (argc < 4) return -1;
    char *input_id = argv[1];
    char *output_id = argv[3];

    char buf[BUF_SIZE] = {0};
    int in = teaclave_open_input(input_id);
    if (in < 0) return -1;
    int total = 0, n;
    while ((n = teaclave_read_file(in, buf + total, BUF_SIZE - 1 - total)) > 0) total += n;
    teaclave_close_file(in);

    int sum = 0, count = 0;
    char *line = buf;
    for (int i = 0; i <= total; i++) {
        if (buf[i] == '\n' || buf[i] == 0) {
            buf[i] = 0;
            if (line[0]) {
                sum += atoi(line);
                count++;
            }
            line = buf + i + 1;
        }
    }

    char report[64];
    memset(report, 0, sizeof report);
    char *p = report;
    const char *count_label = "count=";
    for (int i = 0; count_label[i]; i++) *p++ = count_label[i];
    p += itoa(count, p);
    const char *sum_label = " sum=";
    for (int i = 0; sum_label[i]; i++) *p++ = sum_label[i];
    p += itoa(sum, p);

    int out = teaclave_create_output(output_id);
    if (out < 0) return -1;
    teaclave_write_file(out, report, strlen(report));
    teaclave_close_file(out);
    return sum;
}
