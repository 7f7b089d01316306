/*
 * builtin-rsa-sign: an RSASSA-PKCS1-v1_5 signature with SHA-256.
 *
 * Argument `data`: the text whose UTF-8 bytes are signed. Input `rsa_key`: a
 * PKCS#1 RSAPrivateKey in DER, of 2048 to 4096 bits (ring's range; its
 * rejection names are the error texts: InvalidEncoding, TooSmall, TooLarge,
 * InconsistentComponents). The result is the signature in padded standard
 * base64. The signature is computed as EM^d mod n with Montgomery
 * multiplication; PKCS#1 v1.5 signatures are deterministic.
 */
#include "builtin.h"
#include "sha256.h"

#define MAX_LIMBS 128 /* 4096 bits */

typedef struct {
    uint32_t limb[MAX_LIMBS]; /* little-endian */
    size_t used;
} num;

typedef struct {
    const uint8_t *p, *end;
} der;

static bool der_header(der *d, uint8_t tag, size_t *len) {
    if (d->end - d->p < 2 || d->p[0] != tag) return false;
    size_t n = d->p[1];
    d->p += 2;
    if (n & 0x80) {
        size_t bytes = n & 0x7f;
        if (bytes == 0 || bytes > 3 || (size_t)(d->end - d->p) < bytes) return false;
        n = 0;
        for (size_t i = 0; i < bytes; i++) n = n << 8 | *d->p++;
        if (n < 128) return false; /* DER: the shortest form */
    }
    if ((size_t)(d->end - d->p) < n) return false;
    *len = n;
    return true;
}

/* A positive INTEGER into out (at most MAX_LIMBS limbs). */
static bool der_integer(der *d, num *out) {
    size_t len;
    if (!der_header(d, 0x02, &len) || len == 0) return false;
    const uint8_t *p = d->p;
    d->p += len;
    if (p[0] & 0x80) return false; /* negative */
    if (len > 1 && p[0] == 0 && !(p[1] & 0x80)) return false; /* not minimal */
    while (len && *p == 0) p++, len--;
    if (len > MAX_LIMBS * 4) return false;
    for (size_t i = 0; i < MAX_LIMBS; i++) out->limb[i] = 0;
    for (size_t i = 0; i < len; i++) out->limb[i / 4] |= (uint32_t)p[len - 1 - i] << (8 * (i % 4));
    out->used = (len + 3) / 4;
    return true;
}

static size_t num_bits(const num *a) {
    size_t n = a->used;
    while (n && !a->limb[n - 1]) n--;
    return n ? 32 * n - (size_t)__builtin_clz(a->limb[n - 1]) : 0;
}

static int num_cmp(const num *a, const num *b, size_t k) {
    for (size_t i = k; i-- > 0;)
        if (a->limb[i] != b->limb[i]) return a->limb[i] < b->limb[i] ? -1 : 1;
    return 0;
}

static void num_sub(num *a, const num *b, size_t k) {
    uint64_t borrow = 0;
    for (size_t i = 0; i < k; i++) {
        uint64_t t = (uint64_t)a->limb[i] - b->limb[i] - borrow;
        a->limb[i] = (uint32_t)t;
        borrow = t >> 63;
    }
}

/* r = a * b * 2^(-32k) mod n (CIOS Montgomery multiplication). */
static void mont_mul(num *r, const num *a, const num *b, const num *n, uint32_t n0, size_t k) {
    uint32_t t[MAX_LIMBS + 2] = {0};
    for (size_t i = 0; i < k; i++) {
        uint64_t carry = 0;
        for (size_t j = 0; j < k; j++) {
            uint64_t s = (uint64_t)t[j] + (uint64_t)a->limb[j] * b->limb[i] + carry;
            t[j] = (uint32_t)s;
            carry = s >> 32;
        }
        uint64_t s = (uint64_t)t[k] + carry;
        t[k] = (uint32_t)s;
        t[k + 1] = (uint32_t)(s >> 32);
        uint32_t m = t[0] * n0;
        s = (uint64_t)t[0] + (uint64_t)m * n->limb[0];
        carry = s >> 32;
        for (size_t j = 1; j < k; j++) {
            s = (uint64_t)t[j] + (uint64_t)m * n->limb[j] + carry;
            t[j - 1] = (uint32_t)s;
            carry = s >> 32;
        }
        s = (uint64_t)t[k] + carry;
        t[k - 1] = (uint32_t)s;
        t[k] = t[k + 1] + (uint32_t)(s >> 32);
    }
    num out = {{0}, k};
    for (size_t i = 0; i < k; i++) out.limb[i] = t[i];
    if (t[k] || num_cmp(&out, n, k) >= 0) num_sub(&out, n, k);
    *r = out;
}

/* base^exp mod n. */
static void mod_pow(num *r, const num *base, const num *exp, const num *n, size_t k) {
    uint32_t inv = 1; /* n^-1 mod 2^32 by Newton's iteration */
    for (int i = 0; i < 5; i++) inv *= 2 - n->limb[0] * inv;
    uint32_t n0 = (uint32_t)-inv;
    static num r2, x, b;
    r2 = (num){{0}, k};
    r2.limb[0] = 1;
    for (size_t i = 0; i < 64 * k; i++) { /* R^2 mod n, by doubling */
        uint32_t top = r2.limb[k - 1] >> 31;
        for (size_t j = k; j-- > 1;) r2.limb[j] = r2.limb[j] << 1 | r2.limb[j - 1] >> 31;
        r2.limb[0] <<= 1;
        if (top || num_cmp(&r2, n, k) >= 0) num_sub(&r2, n, k);
    }
    mont_mul(&b, base, &r2, n, n0, k);
    num one = {{0}, k};
    one.limb[0] = 1;
    mont_mul(&x, &one, &r2, n, n0, k); /* 1 in Montgomery form */
    for (size_t bit = num_bits(exp); bit-- > 0;) {
        mont_mul(&x, &x, &x, n, n0, k);
        if (exp->limb[bit / 32] >> (bit % 32) & 1) mont_mul(&x, &x, &b, n, n0, k);
    }
    mont_mul(r, &x, &one, n, n0, k);
}

/* a * b == c, for the components check. */
static bool product_is(const num *a, const num *b, const num *c) {
    static uint32_t t[2 * MAX_LIMBS];
    for (size_t i = 0; i < 2 * MAX_LIMBS; i++) t[i] = 0;
    for (size_t i = 0; i < a->used; i++) {
        uint64_t carry = 0;
        for (size_t j = 0; j < b->used; j++) {
            uint64_t s = (uint64_t)t[i + j] + (uint64_t)a->limb[i] * b->limb[j] + carry;
            t[i + j] = (uint32_t)s;
            carry = s >> 32;
        }
        t[i + b->used] = (uint32_t)carry;
    }
    for (size_t i = 0; i < 2 * MAX_LIMBS; i++)
        if (t[i] != (i < MAX_LIMBS ? c->limb[i] : 0)) return false;
    return true;
}

static const uint8_t SHA256_DIGEST_INFO[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                               0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

int entrypoint(int argc, char *argv[]) {
    const char *data = bt_arg_str(argc, argv, "data");
    if (!data) return -1;
    bt_str key;
    if (!bt_read_input("rsa_key", &key)) return -1;

    static num n, e, d, p, q, extra;
    der reader = {(const uint8_t *)key.p, (const uint8_t *)key.p + key.len};
    size_t len;
    if (!der_header(&reader, 0x30, &len) || reader.p + len != reader.end)
        return bt_fail("InvalidEncoding (rsa_key is not a DER RSAPrivateKey)");
    num version;
    if (!der_integer(&reader, &version) || num_bits(&version) != 0)
        return bt_fail("InvalidEncoding (only two-prime keys of version 0 are supported)");
    if (!der_integer(&reader, &n) || !der_integer(&reader, &e) || !der_integer(&reader, &d) ||
        !der_integer(&reader, &p) || !der_integer(&reader, &q))
        return bt_fail("InvalidEncoding (rsa_key is not a DER RSAPrivateKey)");
    for (int i = 0; i < 3; i++)
        if (!der_integer(&reader, &extra)) return bt_fail("InvalidEncoding (rsa_key is not a DER RSAPrivateKey)");
    if (reader.p != reader.end) return bt_fail("InvalidEncoding (trailing bytes after the key)");

    size_t bits = num_bits(&n);
    if (bits < 2048) return bt_fail("TooSmall (the key has fewer than 2048 bits)");
    if (bits > 4096) return bt_fail("TooLarge (the key has more than 4096 bits)");
    if (!(n.limb[0] & 1) || !(e.limb[0] & 1) || num_bits(&e) < 2 || num_bits(&e) > 33 || !product_is(&p, &q, &n))
        return bt_fail("InconsistentComponents");

    size_t k = (bits + 31) / 32, bytes = (bits + 7) / 8;
    uint8_t *em = bt_calloc(bytes, 1);
    if (!em) return bt_fail_oom();
    size_t tail = sizeof SHA256_DIGEST_INFO + 32;
    em[0] = 0x00;
    em[1] = 0x01;
    for (size_t i = 2; i < bytes - tail - 1; i++) em[i] = 0xff;
    em[bytes - tail - 1] = 0x00;
    for (size_t i = 0; i < sizeof SHA256_DIGEST_INFO; i++) em[bytes - tail + i] = SHA256_DIGEST_INFO[i];
    sha256((const uint8_t *)data, teabox_strlen(data), em + bytes - 32);

    static num message, signature;
    message = (num){{0}, k};
    for (size_t i = 0; i < bytes; i++) message.limb[i / 4] |= (uint32_t)em[bytes - 1 - i] << (8 * (i % 4));
    mod_pow(&signature, &message, &d, &n, k);

    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t *sig = bt_calloc(bytes, 1);
    if (!sig) return bt_fail_oom();
    for (size_t i = 0; i < bytes; i++) sig[bytes - 1 - i] = (uint8_t)(signature.limb[i / 4] >> (8 * (i % 4)));
    bt_buf out = {0};
    for (size_t i = 0; i < bytes; i += 3) {
        uint32_t v = (uint32_t)sig[i] << 16 | (i + 1 < bytes ? sig[i + 1] : 0) << 8 | (i + 2 < bytes ? sig[i + 2] : 0);
        bt_putc(&out, alphabet[v >> 18 & 63]);
        bt_putc(&out, alphabet[v >> 12 & 63]);
        bt_putc(&out, i + 1 < bytes ? alphabet[v >> 6 & 63] : '=');
        bt_putc(&out, i + 2 < bytes ? alphabet[v & 63] : '=');
    }
    return bt_result_buf(&out);
}
