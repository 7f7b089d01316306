/*
 * A small JSON reader for the built-ins' model files: a tree of values on the
 * heap, with numbers kept as text so each is parsed exactly by its own type
 * (f32 or f64) later.
 */
#ifndef TEABOX_JSON_H
#define TEABOX_JSON_H

#include "builtin.h"

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_kind;

typedef struct json {
    json_kind kind;
    bool truth;
    bt_str text;         /* a number's text or a string's decoded bytes */
    struct json *items;  /* array items or object values */
    bt_str *keys;        /* object keys */
    size_t count;
} json;

typedef struct {
    const char *p, *end;
    const char *error;
    int depth;
} json_reader;

static void json_space(json_reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static bool json_fail(json_reader *r, const char *what) {
    if (!r->error) r->error = what;
    return false;
}

static bool json_literal(json_reader *r, const char *word) {
    for (; *word; word++, r->p++)
        if (r->p >= r->end || *r->p != *word) return json_fail(r, "invalid literal");
    return true;
}

static void json_put_utf8(bt_buf *b, uint32_t cp) {
    if (cp < 0x80) bt_putc(b, (char)cp);
    else if (cp < 0x800) bt_putc(b, (char)(0xC0 | cp >> 6)), bt_putc(b, (char)(0x80 | (cp & 63)));
    else if (cp < 0x10000)
        bt_putc(b, (char)(0xE0 | cp >> 12)), bt_putc(b, (char)(0x80 | (cp >> 6 & 63))), bt_putc(b, (char)(0x80 | (cp & 63)));
    else
        bt_putc(b, (char)(0xF0 | cp >> 18)), bt_putc(b, (char)(0x80 | (cp >> 12 & 63))),
            bt_putc(b, (char)(0x80 | (cp >> 6 & 63))), bt_putc(b, (char)(0x80 | (cp & 63)));
}

static bool json_hex4(json_reader *r, uint32_t *out) {
    *out = 0;
    for (int i = 0; i < 4; i++, r->p++) {
        if (r->p >= r->end) return json_fail(r, "unterminated string");
        char c = *r->p;
        int v = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
        if (v < 0) return json_fail(r, "invalid \\u escape");
        *out = *out << 4 | (uint32_t)v;
    }
    return true;
}

static bool json_string(json_reader *r, bt_str *out) {
    r->p++; /* the opening quote */
    bt_buf b = {0};
    for (;;) {
        if (r->p >= r->end) return json_fail(r, "unterminated string");
        char c = *r->p++;
        if (c == '"') break;
        if ((unsigned char)c < 0x20) return json_fail(r, "control character in a string");
        if (c != '\\') {
            bt_putc(&b, c);
            continue;
        }
        if (r->p >= r->end) return json_fail(r, "unterminated string");
        c = *r->p++;
        switch (c) {
        case '"': case '\\': case '/': bt_putc(&b, c); break;
        case 'b': bt_putc(&b, '\b'); break;
        case 'f': bt_putc(&b, '\f'); break;
        case 'n': bt_putc(&b, '\n'); break;
        case 'r': bt_putc(&b, '\r'); break;
        case 't': bt_putc(&b, '\t'); break;
        case 'u': {
            uint32_t cp, low;
            if (!json_hex4(r, &cp)) return false;
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u') return json_fail(r, "lone surrogate");
                r->p += 2;
                if (!json_hex4(r, &low) || low < 0xDC00 || low > 0xDFFF) return json_fail(r, "lone surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                return json_fail(r, "lone surrogate");
            }
            json_put_utf8(&b, cp);
            break;
        }
        default: return json_fail(r, "invalid escape");
        }
    }
    if (b.failed) return json_fail(r, "out of memory");
    *out = (bt_str){b.data, b.len};
    return true;
}

static bool json_value(json_reader *r, json *out);

static bool json_container(json_reader *r, json *out, bool object) {
    char close = object ? '}' : ']';
    r->p++;
    bt_buf items = {0}, keys = {0};
    out->kind = object ? JSON_OBJECT : JSON_ARRAY;
    out->count = 0;
    json_space(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return true;
    }
    if (++r->depth > 64) return json_fail(r, "nested too deeply");
    for (;;) {
        json_space(r);
        if (object) {
            bt_str key;
            if (r->p >= r->end || *r->p != '"') return json_fail(r, "expected a key");
            if (!json_string(r, &key)) return false;
            bt_put(&keys, &key, sizeof key);
            json_space(r);
            if (r->p >= r->end || *r->p++ != ':') return json_fail(r, "expected ':'");
        }
        json item;
        if (!json_value(r, &item)) return false;
        bt_put(&items, &item, sizeof item);
        out->count++;
        json_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            break;
        }
        return json_fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    r->depth--;
    if (items.failed || keys.failed) return json_fail(r, "out of memory");
    out->items = (json *)items.data;
    out->keys = (bt_str *)keys.data;
    return true;
}

static bool json_value(json_reader *r, json *out) {
    json_space(r);
    if (r->p >= r->end) return json_fail(r, "unexpected end of input");
    char c = *r->p;
    out->count = 0;
    if (c == '{' || c == '[') return json_container(r, out, c == '{');
    if (c == '"') {
        out->kind = JSON_STRING;
        return json_string(r, &out->text);
    }
    if (c == 't' || c == 'f') {
        out->kind = JSON_BOOL;
        out->truth = c == 't';
        return json_literal(r, c == 't' ? "true" : "false");
    }
    if (c == 'n') {
        out->kind = JSON_NULL;
        return json_literal(r, "null");
    }
    const char *start = r->p;
    if (*r->p == '-') r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9') return json_fail(r, "invalid value");
    while (r->p < r->end && ((*r->p >= '0' && *r->p <= '9') || *r->p == '.' || *r->p == 'e' || *r->p == 'E' ||
                             *r->p == '+' || *r->p == '-'))
        r->p++;
    out->kind = JSON_NUMBER;
    out->text = (bt_str){start, (size_t)(r->p - start)};
    return true;
}

/* Parse a whole document; NULL (with *error set) when it is not JSON. */
static json *json_parse(bt_str text, const char **error) {
    json_reader r = {text.p, text.p + text.len, NULL, 0};
    json *root = bt_alloc(sizeof(json));
    if (!root) {
        *error = "out of memory";
        return NULL;
    }
    if (json_value(&r, root)) {
        json_space(&r);
        if (r.p == r.end) return root;
        json_fail(&r, "trailing characters");
    }
    *error = r.error;
    return NULL;
}

static json *json_get(json *object, const char *key) {
    if (!object || object->kind != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (bt_str_is(object->keys[i], key)) return &object->items[i];
    return NULL;
}

#endif
