/*
 * AES-128/256 (FIPS 197) and GCM decryption (NIST SP 800-38D) with a 96-bit
 * nonce, written for the built-ins. Table-free S-box lookups are not
 * attempted: a payload runs on data its own task supplies, in a sandbox of
 * its own, so cache timing across tenants is not a concern here.
 */
#ifndef TEABOX_AES_GCM_H
#define TEABOX_AES_GCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static const uint8_t aes_sbox[256] = {
    0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76, 0xca, 0x82, 0xc9,
    0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0, 0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f,
    0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15, 0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07,
    0x12, 0x80, 0xe2, 0xeb, 0x27, 0xb2, 0x75, 0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0, 0x52, 0x3b, 0xd6, 0xb3,
    0x29, 0xe3, 0x2f, 0x84, 0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb, 0xbe, 0x39, 0x4a, 0x4c, 0x58,
    0xcf, 0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45, 0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8, 0x51, 0xa3,
    0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5, 0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2, 0xcd, 0x0c, 0x13, 0xec, 0x5f,
    0x97, 0x44, 0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73, 0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88,
    0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb, 0xe0, 0x32, 0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac,
    0x62, 0x91, 0x95, 0xe4, 0x79, 0xe7, 0xc8, 0x37, 0x6d, 0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a,
    0xae, 0x08, 0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a, 0x70,
    0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e, 0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e, 0xe1, 0xf8, 0x98, 0x11,
    0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf, 0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42,
    0x68, 0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb, 0x16};

typedef struct {
    uint8_t round_keys[15][16];
    int rounds;
} aes_key;

static uint8_t aes_xtime(uint8_t x) { return (uint8_t)((x << 1) ^ ((x >> 7) * 0x1b)); }

/* Expand a 16- or 32-byte key; false for any other length. */
static bool aes_init(aes_key *k, const uint8_t *key, size_t len) {
    if (len != 16 && len != 32) return false;
    int nk = (int)len / 4;
    k->rounds = nk + 6;
    uint8_t w[60][4];
    for (int i = 0; i < nk; i++)
        for (int b = 0; b < 4; b++) w[i][b] = key[4 * i + b];
    uint8_t rcon = 1;
    for (int i = nk; i < 4 * (k->rounds + 1); i++) {
        uint8_t t[4] = {w[i - 1][0], w[i - 1][1], w[i - 1][2], w[i - 1][3]};
        if (i % nk == 0) {
            uint8_t first = t[0];
            t[0] = aes_sbox[t[1]] ^ rcon;
            t[1] = aes_sbox[t[2]];
            t[2] = aes_sbox[t[3]];
            t[3] = aes_sbox[first];
            rcon = aes_xtime(rcon);
        } else if (nk > 6 && i % nk == 4) {
            for (int b = 0; b < 4; b++) t[b] = aes_sbox[t[b]];
        }
        for (int b = 0; b < 4; b++) w[i][b] = w[i - nk][b] ^ t[b];
    }
    for (int r = 0; r <= k->rounds; r++)
        for (int c = 0; c < 4; c++)
            for (int b = 0; b < 4; b++) k->round_keys[r][4 * c + b] = w[4 * r + c][b];
    return true;
}

static void aes_encrypt_block(const aes_key *k, const uint8_t in[16], uint8_t out[16]) {
    uint8_t s[16];
    for (int i = 0; i < 16; i++) s[i] = in[i] ^ k->round_keys[0][i];
    for (int r = 1; r <= k->rounds; r++) {
        uint8_t t[16];
        /* SubBytes and ShiftRows: row i of column c comes from column c + i. */
        for (int c = 0; c < 4; c++)
            for (int row = 0; row < 4; row++) t[4 * c + row] = aes_sbox[s[4 * ((c + row) % 4) + row]];
        if (r != k->rounds) {
            for (int c = 0; c < 4; c++) { /* MixColumns */
                uint8_t *col = t + 4 * c;
                uint8_t a0 = col[0], a1 = col[1], a2 = col[2], a3 = col[3], all = a0 ^ a1 ^ a2 ^ a3;
                col[0] ^= all ^ aes_xtime(a0 ^ a1);
                col[1] ^= all ^ aes_xtime(a1 ^ a2);
                col[2] ^= all ^ aes_xtime(a2 ^ a3);
                col[3] ^= all ^ aes_xtime(a3 ^ a0);
            }
        }
        for (int i = 0; i < 16; i++) s[i] = t[i] ^ k->round_keys[r][i];
    }
    for (int i = 0; i < 16; i++) out[i] = s[i];
}

/* x = x * y in GF(2^128) with GCM's bit order. */
static void gcm_multiply(uint8_t x[16], const uint8_t y[16]) {
    uint8_t z[16] = {0}, v[16];
    for (int i = 0; i < 16; i++) v[i] = y[i];
    for (int i = 0; i < 128; i++) {
        if (x[i / 8] >> (7 - i % 8) & 1)
            for (int b = 0; b < 16; b++) z[b] ^= v[b];
        uint8_t carry = v[15] & 1;
        for (int b = 15; b > 0; b--) v[b] = (uint8_t)(v[b] >> 1 | v[b - 1] << 7);
        v[0] >>= 1;
        if (carry) v[0] ^= 0xe1;
    }
    for (int i = 0; i < 16; i++) x[i] = z[i];
}

static void gcm_ghash_blocks(uint8_t acc[16], const uint8_t h[16], const uint8_t *data, size_t len) {
    for (size_t off = 0; off < len; off += 16) {
        for (size_t i = 0; i < 16 && off + i < len; i++) acc[i] ^= data[off + i];
        gcm_multiply(acc, h);
    }
}

/* Decrypt `len` bytes of ciphertext followed by a 16-byte tag, with empty
 * additional data, into `out`; false when the tag does not verify. */
static bool aes_gcm_open(const aes_key *k, const uint8_t nonce[12], const uint8_t *in, size_t len, uint8_t *out) {
    uint8_t zero[16] = {0}, h[16], j0[16] = {0}, acc[16] = {0}, lengths[16] = {0}, tag[16];
    aes_encrypt_block(k, zero, h);
    for (int i = 0; i < 12; i++) j0[i] = nonce[i];
    j0[15] = 1;
    gcm_ghash_blocks(acc, h, in, len);
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) lengths[15 - i] = (uint8_t)(bits >> (8 * i));
    gcm_ghash_blocks(acc, h, lengths, 16);
    aes_encrypt_block(k, j0, tag);
    uint8_t diff = 0;
    for (int i = 0; i < 16; i++) diff |= (uint8_t)(tag[i] ^ acc[i] ^ in[len + i]);
    if (diff) return false;
    uint8_t counter[16], stream[16];
    for (int i = 0; i < 16; i++) counter[i] = j0[i];
    for (size_t off = 0; off < len; off += 16) {
        for (int i = 15; i >= 12; i--)
            if (++counter[i]) break;
        aes_encrypt_block(k, counter, stream);
        for (size_t i = 0; i < 16 && off + i < len; i++) out[off + i] = in[off + i] ^ stream[i];
    }
    return true;
}

#endif
