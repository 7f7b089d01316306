/*
 * builtin_online_decrypt: AES-GCM decryption of data passed as arguments.
 *
 * Arguments (all standard, padded base64 except `algorithm`): `key` (16 bytes
 * for `aes128gcm`, 32 for `aes256gcm`), `nonce` (its first 12 bytes are
 * used), `encrypted_data` (ciphertext followed by the 16-byte tag; the
 * additional data is empty) and `algorithm`. The result is the plaintext,
 * which must be UTF-8. Error texts are Teaclave's: `Invalid algorithm`,
 * `decryption error` (wrong key length or tag), `base64 decoded error` (a
 * plaintext that is not UTF-8).
 */
#include "aes_gcm.h"
#include "builtin.h"

static int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decode standard base64 (padding optional) of argument `key`; false after reporting the error. */
static bool b64_decode(const char *key, const char *text, bt_str *out) {
    size_t len = teabox_strlen(text), pad = 0;
    while (pad < 2 && len > pad && text[len - 1 - pad] == '=') pad++;
    size_t body = len - pad;
    uint8_t *bytes = bt_alloc(body * 3 / 4 + 3);
    if (!bytes) return bt_fail_oom(), false;
    uint32_t acc = 0;
    size_t n = 0, bits = 0;
    const char *problem = NULL;
    size_t at = 0;
    for (size_t i = 0; i < body && !problem; i++) {
        int v = b64_value(text[i]);
        if (v < 0) problem = "an invalid character", at = i;
        acc = acc << 6 | (uint32_t)(v & 63);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (!problem && (body % 4 == 1 || (pad && (body + pad) % 4 != 0))) problem = "a wrong length", at = len;
    if (!problem && (acc & ((1u << bits) - 1)) != 0) problem = "non-zero trailing bits", at = body - 1;
    if (problem) {
        bt_buf m = {0};
        bt_puts(&m, "`");
        bt_puts(&m, key);
        bt_puts(&m, "` is not valid base64: ");
        bt_puts(&m, problem);
        bt_puts(&m, " at offset ");
        bt_put_u64(&m, at);
        return bt_fail_buf(&m), false;
    }
    out->p = (const char *)bytes;
    out->len = n;
    return true;
}

int entrypoint(int argc, char *argv[]) {
    const char *key_text = bt_arg_str(argc, argv, "key"), *nonce_text, *data_text, *algorithm;
    if (!key_text || !(nonce_text = bt_arg_str(argc, argv, "nonce")) ||
        !(data_text = bt_arg_str(argc, argv, "encrypted_data")) || !(algorithm = bt_arg_str(argc, argv, "algorithm")))
        return -1;
    bt_str key, nonce, data;
    if (!b64_decode("key", key_text, &key) || !b64_decode("nonce", nonce_text, &nonce) ||
        !b64_decode("encrypted_data", data_text, &data))
        return -1;
    size_t key_len;
    if (teabox_streq(algorithm, "aes128gcm")) key_len = 16;
    else if (teabox_streq(algorithm, "aes256gcm")) key_len = 32;
    else return bt_fail("Invalid algorithm (use aes128gcm or aes256gcm)");
    if (nonce.len < 12) return bt_fail("the nonce is shorter than 12 bytes");

    aes_key k;
    if (key.len != key_len || data.len < 16 || !aes_init(&k, (const uint8_t *)key.p, key.len))
        return bt_fail("decryption error");
    size_t plain_len = data.len - 16;
    char *plain = bt_alloc(plain_len + 1);
    if (!plain) return bt_fail_oom();
    if (!aes_gcm_open(&k, (const uint8_t *)nonce.p, (const uint8_t *)data.p, plain_len, (uint8_t *)plain))
        return bt_fail("decryption error");
    bt_str text = {plain, plain_len};
    if (!bt_utf8_valid(text)) return bt_fail("base64 decoded error (the plaintext is not UTF-8)");
    return bt_result(plain, plain_len);
}
