/*
 * Shared helpers of teabox's built-in functions: a heap, growable buffers,
 * whole-file input and output, lines, typed arguments, and the text channels
 * through which a built-in returns its result or its error message.
 *
 * Everything is `static`, so each built-in keeps only what it uses. There is
 * no C library: the heap takes pages with memory.grow and never frees, which
 * suits a single short run under the sandbox's memory limit.
 */
#ifndef TEABOX_BUILTIN_H
#define TEABOX_BUILTIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "teabox.h"

#define BT_RESULT_CHANNEL "teabox:result"
#define BT_ERROR_CHANNEL "teabox:error"
#define BT_PAGE 65536u

/* ---- memory ------------------------------------------------------------ */

static uintptr_t bt_heap_top, bt_heap_end;

/* Pages grown here are the payload's own: the host writes argv only at the
 * end of the memory it finds before the run starts. */
static void *bt_alloc(size_t n) {
    if (n > SIZE_MAX - BT_PAGE) return NULL; /* the rounding below would wrap */
    n = (n + 15) & ~(size_t)15;
    if (bt_heap_end - bt_heap_top < n) {
        size_t pages = (n + BT_PAGE - 1) / BT_PAGE;
        if (pages < 16) pages = 16;
        size_t old = __builtin_wasm_memory_grow(0, pages);
        if (old == (size_t)-1) return NULL;
        uintptr_t start = (uintptr_t)old * BT_PAGE;
        if (start != bt_heap_end) bt_heap_top = start;
        bt_heap_end = start + pages * BT_PAGE;
        if (bt_heap_end - bt_heap_top < n) return NULL;
    }
    void *p = (void *)bt_heap_top;
    bt_heap_top += n;
    return p;
}

static void bt_copy(void *dst, const void *src, size_t n) {
    char *d = dst;
    const char *s = src;
    while (n--) *d++ = *s++;
}

static void *bt_calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    char *p = bt_alloc(count * size);
    if (p) for (size_t i = 0; i < count * size; i++) p[i] = 0;
    return p;
}

/* ---- strings and buffers ----------------------------------------------- */

typedef struct {
    const char *p;
    size_t len;
} bt_str;

typedef struct {
    char *data;
    size_t len, cap;
    bool failed; /* an allocation failed: the contents are incomplete */
} bt_buf;

static bool bt_reserve(bt_buf *b, size_t extra) {
    if (b->failed) return false;
    if (extra > SIZE_MAX / 4 - b->len) { /* more than the address space */
        b->failed = true;
        return false;
    }
    if (b->len + extra <= b->cap) return true;
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + extra) cap *= 2;
    char *p = bt_alloc(cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    if (b->len) bt_copy(p, b->data, b->len);
    b->data = p;
    b->cap = cap;
    return true;
}

static void bt_put(bt_buf *b, const void *s, size_t n) {
    if (bt_reserve(b, n)) {
        bt_copy(b->data + b->len, s, n);
        b->len += n;
    }
}

static void bt_putc(bt_buf *b, char c) { bt_put(b, &c, 1); }

static void bt_puts(bt_buf *b, const char *s) { bt_put(b, s, teabox_strlen(s)); }

static void bt_put_u64(bt_buf *b, uint64_t v) {
    char digits[20];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n) bt_putc(b, digits[--n]);
}

static bool bt_str_eq(bt_str a, bt_str b) {
    if (a.len != b.len) return false;
    for (size_t i = 0; i < a.len; i++)
        if (a.p[i] != b.p[i]) return false;
    return true;
}

static bool bt_str_is(bt_str a, const char *s) {
    bt_str b = {s, teabox_strlen(s)};
    return bt_str_eq(a, b);
}

/* Byte-wise comparison, a shorter prefix first (Rust's ordering of &[u8]). */
static int bt_str_cmp(bt_str a, bt_str b) {
    size_t n = a.len < b.len ? a.len : b.len;
    for (size_t i = 0; i < n; i++)
        if (a.p[i] != b.p[i]) return (unsigned char)a.p[i] < (unsigned char)b.p[i] ? -1 : 1;
    return a.len < b.len ? -1 : a.len > b.len;
}

static bool bt_is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static bt_str bt_trim(bt_str s) {
    while (s.len && bt_is_space(s.p[0])) s.p++, s.len--;
    while (s.len && bt_is_space(s.p[s.len - 1])) s.len--;
    return s;
}

/* The next line of text at *pos: split on '\n', a trailing '\r' dropped, and
 * a last line without a newline counted. */
static bool bt_next_line(bt_str text, size_t *pos, bt_str *line) {
    if (*pos >= text.len) return false;
    size_t start = *pos, end = start;
    while (end < text.len && text.p[end] != '\n') end++;
    *pos = end < text.len ? end + 1 : end;
    if (end > start && text.p[end - 1] == '\r') end--;
    line->p = text.p + start;
    line->len = end - start;
    return true;
}

static bool bt_utf8_valid(bt_str s) {
    const unsigned char *p = (const unsigned char *)s.p;
    size_t i = 0;
    while (i < s.len) {
        unsigned c = p[i];
        size_t extra;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) extra = 1, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) extra = 2, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) extra = 3, cp = c & 0x07, min = 0x10000;
        else return false;
        if (i + extra >= s.len) return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += extra + 1;
    }
    return true;
}

/* ---- the text channels -------------------------------------------------- */

static bool bt_send(const char *channel, const char *text, size_t len) {
    int fd = teaclave_create_output((char *)channel);
    if (fd < 0) return false;
    bool ok = len == 0 || teaclave_write_file(fd, (char *)text, (int)len) == (int)len;
    return teaclave_close_file(fd) == 0 && ok;
}

/* Fail the run with `message` as its reason; returns the value to return. */
static int bt_fail(const char *message) {
    bt_send(BT_ERROR_CHANNEL, message, teabox_strlen(message));
    return -1;
}

static int bt_fail_buf(bt_buf *message) {
    if (message->failed) return bt_fail("out of memory");
    bt_send(BT_ERROR_CHANNEL, message->data, message->len);
    return -1;
}

static int bt_fail_oom(void) { return bt_fail("out of memory"); }

/* Finish the run with `text` as its result. */
static int bt_result(const char *text, size_t len) {
    if (!bt_send(BT_RESULT_CHANNEL, text, len)) return bt_fail("the result could not be written");
    return 0;
}

static int bt_result_buf(bt_buf *text) {
    if (text->failed) return bt_fail_oom();
    return bt_result(text->data, text->len);
}

static int bt_result_str(const char *text) { return bt_result(text, teabox_strlen(text)); }

/* "<prefix><n><suffix>", the shape of most built-ins' results. */
static int bt_result_phrase(const char *prefix, uint64_t n, const char *suffix) {
    bt_buf b = {0};
    bt_puts(&b, prefix);
    bt_put_u64(&b, n);
    bt_puts(&b, suffix);
    return bt_result_buf(&b);
}

static int bt_result_count(uint64_t n, const char *suffix) { return bt_result_phrase("", n, suffix); }

/* ---- files --------------------------------------------------------------- */

/* Read the whole input `name`; false after reporting the error. */
static bool bt_read_input(const char *name, bt_str *out) {
    int fd = teaclave_open_input((char *)name);
    if (fd < 0) {
        bt_buf m = {0};
        bt_puts(&m, "Invalid input file identifier. (no input named '");
        bt_puts(&m, name);
        bt_puts(&m, "' is bound to the task)");
        bt_fail_buf(&m);
        return false;
    }
    bt_buf b = {0};
    for (;;) {
        if (!bt_reserve(&b, 65536)) {
            bt_fail_oom();
            return false;
        }
        int n = teaclave_read_file(fd, b.data + b.len, (int)(b.cap - b.len));
        if (n < 0) {
            bt_fail("reading an input failed");
            return false;
        }
        if (n == 0) break;
        b.len += (size_t)n;
    }
    teaclave_close_file(fd);
    out->p = b.data;
    out->len = b.len;
    return true;
}

/* Create output `name` and write all of `data`; false after reporting the error. */
static bool bt_write_output(const char *name, const char *data, size_t len) {
    int fd = teaclave_create_output((char *)name);
    if (fd < 0) {
        bt_buf m = {0};
        bt_puts(&m, "Invalid output file identifier (no output named '");
        bt_puts(&m, name);
        bt_puts(&m, "' is bound to the task)");
        bt_fail_buf(&m);
        return false;
    }
    size_t done = 0;
    while (done < len) {
        int chunk = len - done > (1u << 30) ? (1 << 30) : (int)(len - done);
        if (teaclave_write_file(fd, (char *)data + done, chunk) != chunk) {
            bt_fail("writing an output failed (is the output limit too small?)");
            return false;
        }
        done += (size_t)chunk;
    }
    teaclave_close_file(fd);
    return true;
}

/* "<prefix><i>" as a data name, e.g. input_data3. */
static const char *bt_indexed_name(const char *prefix, uint64_t i) {
    bt_buf b = {0};
    bt_puts(&b, prefix);
    bt_put_u64(&b, i);
    bt_putc(&b, '\0');
    return b.failed ? NULL : b.data;
}

/* ---- arguments ------------------------------------------------------------ */

/* Teaclave read the arguments into a typed record; a missing key or a value
 * of the wrong type was "Cannot deserialize arguments". Non-string values
 * reach the payload as compact JSON text. */
static int bt_bad_argument(const char *key, const char *expected) {
    bt_buf m = {0};
    bt_puts(&m, "Cannot deserialize arguments: `");
    bt_puts(&m, key);
    bt_puts(&m, "` ");
    bt_puts(&m, expected);
    return bt_fail_buf(&m);
}

static const char *bt_arg_str(int argc, char *argv[], const char *key) {
    const char *v = teabox_arg(argc, argv, key);
    if (!v) bt_bad_argument(key, "is missing");
    return v;
}

static bool bt_arg_u64(int argc, char *argv[], const char *key, uint64_t *out) {
    const char *v = teabox_arg(argc, argv, key);
    if (!v) return bt_bad_argument(key, "is missing"), false;
    uint64_t n = 0;
    const char *p = v;
    if (!*p) return bt_bad_argument(key, "must be an unsigned integer"), false;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
            return bt_bad_argument(key, "must be an unsigned integer"), false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *out = n;
    return true;
}

static bool bt_arg_bool(int argc, char *argv[], const char *key, bool *out) {
    const char *v = teabox_arg(argc, argv, key);
    if (!v) return bt_bad_argument(key, "is missing"), false;
    if (teabox_streq(v, "true")) *out = true;
    else if (teabox_streq(v, "false")) *out = false;
    else return bt_bad_argument(key, "must be true or false"), false;
    return true;
}

#endif
