/*
 * teabox.h: the guest SDK for C and C++ payloads.
 *
 * A payload has no libc: it runs with nothing but its own code and the five
 * host functions (declared in teaclave_context.h, included here). This header
 * adds the few freestanding helpers almost every payload needs. They are all
 * `static inline` and prefixed `teabox_`, so they cost nothing when unused and
 * never clash with a payload's own strlen, atoi or memset.
 *
 * `teabox build` puts this directory on the include path; `teabox sdk-path`
 * prints where it is.
 */
#ifndef TEABOX_H
#define TEABOX_H

#include <stddef.h>
#include <stdint.h>

#include "teaclave_context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Characters needed to format any int64_t in decimal, without the terminating NUL. */
#define TEABOX_I64_MAX_CHARS 20

/* Length of a NUL-terminated string. */
static inline size_t teabox_strlen(const char *s) {
    size_t n = 0;
    while (s[n] != '\0') n++;
    return n;
}

/* 1 if two NUL-terminated strings are equal, else 0. */
static inline int teabox_streq(const char *a, const char *b) {
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/*
 * The value of argument `key`, or NULL if the task has no such argument.
 * argv holds key/value pairs sorted by key; looking a value up by key keeps a
 * payload correct when arguments are added, unlike reading argv[1] or argv[3].
 */
static inline const char *teabox_arg(int argc, char *argv[], const char *key) {
    for (int i = 0; i + 1 < argc; i += 2) {
        if (teabox_streq(argv[i], key)) return argv[i + 1];
    }
    return NULL;
}

/* Like teabox_arg, but `fallback` when the argument is absent. */
static inline const char *teabox_arg_or(int argc, char *argv[], const char *key, const char *fallback) {
    const char *value = teabox_arg(argc, argv, key);
    return value != NULL ? value : fallback;
}

/*
 * Parse a decimal integer from `text[0..len)`: optional surrounding ASCII
 * whitespace, an optional sign, at least one digit, nothing else.
 * Returns 0 and stores the value in *out, or -1 (malformed or out of range).
 */
static inline int teabox_parse_i64_n(const char *text, size_t len, int64_t *out) {
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    int negative = 0;
    if (i < len && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
    size_t first_digit = i;
    uint64_t magnitude = 0;
    const uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    while (i < len && text[i] >= '0' && text[i] <= '9') {
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (magnitude > (limit - digit) / 10u) return -1;
        magnitude = magnitude * 10u + digit;
        i++;
    }
    if (i == first_digit) return -1;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    if (i != len) return -1;
    *out = negative ? (int64_t)(0u - magnitude) : (int64_t)magnitude;
    return 0;
}

/* teabox_parse_i64_n on a NUL-terminated string (an argument value, say). */
static inline int teabox_parse_i64(const char *text, int64_t *out) {
    return teabox_parse_i64_n(text, teabox_strlen(text), out);
}

/*
 * Write `value` in decimal to `buf` (at least TEABOX_I64_MAX_CHARS + 1 bytes),
 * NUL-terminated; returns the number of characters before the NUL.
 */
static inline int teabox_format_i64(int64_t value, char *buf) {
    char digits[TEABOX_I64_MAX_CHARS];
    uint64_t magnitude = value < 0 ? 0u - (uint64_t)value : (uint64_t)value;
    int n = 0;
    do {
        digits[n++] = (char)('0' + magnitude % 10u);
        magnitude /= 10u;
    } while (magnitude != 0u);
    int len = 0;
    if (value < 0) buf[len++] = '-';
    while (n > 0) buf[len++] = digits[--n];
    buf[len] = '\0';
    return len;
}

/*
 * Read from handle `fd` until end of file or until `capacity` bytes are in
 * `buf`. Returns the number of bytes read, or -1 on a read error.
 * Check `result == capacity` to detect an input too large for the buffer.
 */
static inline int teabox_read_all(int fd, void *buf, int capacity) {
    int total = 0;
    while (total < capacity) {
        int n = teaclave_read_file(fd, (char *)buf + total, capacity - total);
        if (n < 0) return -1;
        if (n == 0) break;
        total += n;
    }
    return total;
}

/* Write all `size` bytes; returns `size`, or -1 if the host refused them. */
static inline int teabox_write_all(int fd, const void *buf, int size) {
    return teaclave_write_file(fd, buf, size) == size ? size : -1;
}

/* Write a NUL-terminated string (without its NUL); returns its length or -1. */
static inline int teabox_write_str(int fd, const char *s) {
    return teabox_write_all(fd, s, (int)teabox_strlen(s));
}

/* Write an integer in decimal; returns the number of characters or -1. */
static inline int teabox_write_i64(int fd, int64_t value) {
    char text[TEABOX_I64_MAX_CHARS + 1];
    return teabox_write_all(fd, text, teabox_format_i64(value, text));
}

#ifdef __cplusplus
}
#endif

#endif /* TEABOX_H */
