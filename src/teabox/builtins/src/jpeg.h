/*
 * A baseline JPEG decoder to a grey image, as Teaclave's face detection saw
 * its input: jpeg-decoder 0.1's integer IDCT (stb_image's), "fancy" chroma
 * upsampling, BT.601 YCbCr to RGB in f32, then grey = trunc(0.2126 R +
 * 0.7152 G + 0.0722 B) in f32.
 *
 * Supported: baseline Huffman JPEG (SOF0/SOF1), 8-bit, one (grey) or three
 * (YCbCr) components, chroma at full, half-width or half-width-and-height
 * resolution, restart intervals. Progressive and arithmetic-coded files are
 * refused with a message saying so.
 */
#ifndef TEABOX_JPEG_H
#define TEABOX_JPEG_H

#include "builtin.h"

typedef struct {
    uint8_t bits[17];
    uint8_t values[256];
    uint16_t codes[256];
    uint8_t sizes[256];
    int count;
    bool defined;
} jpeg_huffman;

typedef struct {
    int id, h, v, tq, td, ta;
    int blocks_w, blocks_h; /* blocks per line and column, padded to whole MCUs */
    uint8_t *pixels;        /* blocks_w*8 x blocks_h*8 samples */
    int dc_pred;
} jpeg_component;

typedef struct {
    const uint8_t *p, *end;
    uint32_t bits;
    int bit_count;
    bool marker_hit;
    uint16_t quant[4][64];
    jpeg_huffman dc[4], ac[4];
    jpeg_component comp[3];
    int ncomp, width, height, hmax, vmax, restart_interval;
    const char *error;
} jpeg_decoder;

#define JPEG_MAX_PIXELS (64u << 20) /* with padding and three planes, well inside wasm32's 4 GiB */

static const uint8_t jpeg_zigzag[64] = {0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
                                        12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
                                        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
                                        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

static bool jpeg_fail(jpeg_decoder *j, const char *what) {
    if (!j->error) j->error = what;
    return false;
}

static bool jpeg_build_huffman(jpeg_huffman *h) {
    int code = 0, k = 0;
    for (int len = 1; len <= 16; len++) {
        for (int i = 0; i < h->bits[len]; i++, k++) {
            h->codes[k] = (uint16_t)code++;
            h->sizes[k] = (uint8_t)len;
        }
        if (code > (1 << len)) return false;
        code <<= 1;
    }
    h->count = k;
    h->defined = true;
    return true;
}

static int jpeg_bit(jpeg_decoder *j) {
    if (j->bit_count == 0) {
        uint8_t byte = 0;
        if (!j->marker_hit && j->p < j->end) {
            byte = *j->p;
            if (byte == 0xFF) {
                uint8_t next = j->p + 1 < j->end ? j->p[1] : 0;
                if (next == 0x00) j->p += 2;
                else j->marker_hit = true, byte = 0; /* a marker: feed zeros */
            } else {
                j->p++;
            }
        }
        j->bits = byte;
        j->bit_count = 8;
    }
    j->bit_count--;
    return (int)(j->bits >> j->bit_count & 1);
}

static int jpeg_decode_symbol(jpeg_decoder *j, const jpeg_huffman *h) {
    int code = 0, k = 0;
    for (int len = 1; len <= 16; len++) {
        code = code << 1 | jpeg_bit(j);
        for (int i = 0; i < h->bits[len]; i++, k++)
            if (h->codes[k] == code) return h->values[k];
    }
    return -1;
}

static int jpeg_receive_extend(jpeg_decoder *j, int size) {
    int v = 0;
    for (int i = 0; i < size; i++) v = v << 1 | jpeg_bit(j);
    return v < (1 << (size - 1)) ? v - (1 << size) + 1 : v;
}

static uint8_t jpeg_clamp(int x) { return x < 0 ? 0 : x > 255 ? 255 : (uint8_t)x; }

#define JPEG_F2F(x) ((int)((x) * 4096 + 0.5))
#define JPEG_FSH(x) ((x) * 4096)
#define JPEG_IDCT_1D(s0, s1, s2, s3, s4, s5, s6, s7)                                                              \
    int t0, t1, t2, t3, p1, p2, p3, p4, p5, x0, x1, x2, x3;                                                      \
    p2 = s2;                                                                                                     \
    p3 = s6;                                                                                                     \
    p1 = (p2 + p3) * JPEG_F2F(0.5411961f);                                                                       \
    t2 = p1 + p3 * JPEG_F2F(-1.847759065f);                                                                      \
    t3 = p1 + p2 * JPEG_F2F(0.765366865f);                                                                       \
    p2 = s0;                                                                                                     \
    p3 = s4;                                                                                                     \
    t0 = JPEG_FSH(p2 + p3);                                                                                      \
    t1 = JPEG_FSH(p2 - p3);                                                                                      \
    x0 = t0 + t3;                                                                                                \
    x3 = t0 - t3;                                                                                                \
    x1 = t1 + t2;                                                                                                \
    x2 = t1 - t2;                                                                                                \
    t0 = s7;                                                                                                     \
    t1 = s5;                                                                                                     \
    t2 = s3;                                                                                                     \
    t3 = s1;                                                                                                     \
    p3 = t0 + t2;                                                                                                \
    p4 = t1 + t3;                                                                                                \
    p1 = t0 + t3;                                                                                                \
    p2 = t1 + t2;                                                                                                \
    p5 = (p3 + p4) * JPEG_F2F(1.175875602f);                                                                     \
    t0 = t0 * JPEG_F2F(0.298631336f);                                                                            \
    t1 = t1 * JPEG_F2F(2.053119869f);                                                                            \
    t2 = t2 * JPEG_F2F(3.072711026f);                                                                            \
    t3 = t3 * JPEG_F2F(1.501321110f);                                                                            \
    p1 = p5 + p1 * JPEG_F2F(-0.899976223f);                                                                      \
    p2 = p5 + p2 * JPEG_F2F(-2.562915447f);                                                                      \
    p3 = p3 * JPEG_F2F(-1.961570560f);                                                                           \
    p4 = p4 * JPEG_F2F(-0.390180644f);                                                                           \
    t3 += p1 + p4;                                                                                               \
    t2 += p2 + p3;                                                                                               \
    t1 += p2 + p4;                                                                                               \
    t0 += p1 + p3;

/* Inverse DCT of dequantized coefficients (natural order) into 8x8 samples. */
static void jpeg_idct(uint8_t *out, int stride, const int *d) {
    int val[64];
    for (int i = 0; i < 8; i++) {
        const int *c = d + i;
        int *v = val + i;
        if (!c[8] && !c[16] && !c[24] && !c[32] && !c[40] && !c[48] && !c[56]) {
            int dc = c[0] * 4;
            v[0] = v[8] = v[16] = v[24] = v[32] = v[40] = v[48] = v[56] = dc;
        } else {
            JPEG_IDCT_1D(c[0], c[8], c[16], c[24], c[32], c[40], c[48], c[56])
            x0 += 512, x1 += 512, x2 += 512, x3 += 512;
            v[0] = (x0 + t3) >> 10;
            v[56] = (x0 - t3) >> 10;
            v[8] = (x1 + t2) >> 10;
            v[48] = (x1 - t2) >> 10;
            v[16] = (x2 + t1) >> 10;
            v[40] = (x2 - t1) >> 10;
            v[24] = (x3 + t0) >> 10;
            v[32] = (x3 - t0) >> 10;
        }
    }
    for (int i = 0; i < 8; i++) {
        const int *v = val + 8 * i;
        uint8_t *o = out + i * stride;
        JPEG_IDCT_1D(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
        x0 += 65536 + (128 << 17), x1 += 65536 + (128 << 17), x2 += 65536 + (128 << 17), x3 += 65536 + (128 << 17);
        o[0] = jpeg_clamp((x0 + t3) >> 17);
        o[7] = jpeg_clamp((x0 - t3) >> 17);
        o[1] = jpeg_clamp((x1 + t2) >> 17);
        o[6] = jpeg_clamp((x1 - t2) >> 17);
        o[2] = jpeg_clamp((x2 + t1) >> 17);
        o[5] = jpeg_clamp((x2 - t1) >> 17);
        o[3] = jpeg_clamp((x3 + t0) >> 17);
        o[4] = jpeg_clamp((x3 - t0) >> 17);
    }
}

static bool jpeg_block(jpeg_decoder *j, jpeg_component *c, uint8_t *out, int stride) {
    int coef[64] = {0};
    const jpeg_huffman *dc = &j->dc[c->td], *ac = &j->ac[c->ta];
    const uint16_t *q = j->quant[c->tq];
    int s = jpeg_decode_symbol(j, dc);
    if (s < 0 || s > 11) return jpeg_fail(j, "corrupt Huffman data");
    c->dc_pred += s ? jpeg_receive_extend(j, s) : 0;
    coef[0] = c->dc_pred * q[0];
    for (int k = 1; k < 64;) {
        int rs = jpeg_decode_symbol(j, ac);
        if (rs < 0) return jpeg_fail(j, "corrupt Huffman data");
        int r = rs >> 4, size = rs & 15;
        if (size == 0) {
            if (r != 15) break; /* end of block */
            k += 16;
            continue;
        }
        k += r;
        if (k > 63) return jpeg_fail(j, "corrupt Huffman data");
        coef[jpeg_zigzag[k]] = jpeg_receive_extend(j, size) * q[k];
        k++;
    }
    jpeg_idct(out, stride, coef);
    return true;
}

static uint16_t jpeg_u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static bool jpeg_frame(jpeg_decoder *j, const uint8_t *s, size_t len) {
    if (len < 6 || s[0] != 8) return jpeg_fail(j, "only 8-bit JPEG is supported");
    j->height = jpeg_u16(s + 1);
    j->width = jpeg_u16(s + 3);
    j->ncomp = s[5];
    if (j->width == 0 || j->height == 0) return jpeg_fail(j, "the JPEG has no size (DNL is not supported)");
    if ((uint64_t)j->width * (uint64_t)j->height > JPEG_MAX_PIXELS)
        return jpeg_fail(j, "the image is larger than 64 megapixels");
    if (j->ncomp != 1 && j->ncomp != 3) return jpeg_fail(j, "only grey and YCbCr JPEG is supported");
    if (len < 6 + 3 * (size_t)j->ncomp) return jpeg_fail(j, "corrupt frame header");
    j->hmax = j->vmax = 1;
    for (int i = 0; i < j->ncomp; i++) {
        jpeg_component *c = &j->comp[i];
        c->id = s[6 + 3 * i];
        c->h = s[7 + 3 * i] >> 4;
        c->v = s[7 + 3 * i] & 15;
        c->tq = s[8 + 3 * i];
        if (c->h < 1 || c->h > 2 || c->v < 1 || c->v > 2 || c->tq > 3)
            return jpeg_fail(j, "unsupported sampling factors");
        if (c->h > j->hmax) j->hmax = c->h;
        if (c->v > j->vmax) j->vmax = c->v;
    }
    for (int i = 1; i < j->ncomp; i++)
        if (j->comp[i].h != 1 || j->comp[i].v != 1) return jpeg_fail(j, "unsupported chroma subsampling");
    int mcus_w = (j->width + 8 * j->hmax - 1) / (8 * j->hmax), mcus_h = (j->height + 8 * j->vmax - 1) / (8 * j->vmax);
    for (int i = 0; i < j->ncomp; i++) {
        jpeg_component *c = &j->comp[i];
        c->blocks_w = mcus_w * c->h;
        c->blocks_h = mcus_h * c->v;
        c->pixels = bt_alloc((size_t)c->blocks_w * 8 * (size_t)c->blocks_h * 8);
        if (!c->pixels) return jpeg_fail(j, "out of memory");
    }
    return true;
}

static bool jpeg_scan(jpeg_decoder *j, const uint8_t *s, size_t len) {
    if (len < 1 || s[0] != j->ncomp || len < 4 + 2 * (size_t)s[0])
        return jpeg_fail(j, "only interleaved scans of every component are supported");
    for (int i = 0; i < j->ncomp; i++) {
        jpeg_component *c = &j->comp[i];
        if (s[1 + 2 * i] != c->id) return jpeg_fail(j, "scan components out of order");
        c->td = s[2 + 2 * i] >> 4;
        c->ta = s[2 + 2 * i] & 15;
        if (c->td > 3 || c->ta > 3 || !j->dc[c->td].defined || !j->ac[c->ta].defined)
            return jpeg_fail(j, "a scan uses an undefined Huffman table");
        c->dc_pred = 0;
    }
    j->bit_count = 0;
    j->marker_hit = false;
    int mcus_w = j->comp[0].blocks_w / j->comp[0].h, mcus_h = j->comp[0].blocks_h / j->comp[0].v;
    int single = j->ncomp == 1; /* a non-interleaved scan codes only the blocks inside the image */
    int total = single ? ((j->width + 7) / 8) * ((j->height + 7) / 8) : mcus_w * mcus_h;
    for (int m = 0; m < total; m++) {
        if (j->restart_interval && m && m % j->restart_interval == 0) {
            /* RSTn: realign to the marker and reset the predictions */
            while (j->p + 1 < j->end && !(j->p[0] == 0xFF && j->p[1] >= 0xD0 && j->p[1] <= 0xD7)) j->p++;
            if (j->p + 1 >= j->end) return jpeg_fail(j, "a restart marker is missing");
            j->p += 2;
            j->bit_count = 0;
            j->marker_hit = false;
            for (int i = 0; i < j->ncomp; i++) j->comp[i].dc_pred = 0;
        }
        if (single) {
            jpeg_component *c = &j->comp[0];
            int per_line = (j->width + 7) / 8, bx = m % per_line, by = m / per_line;
            int stride = c->blocks_w * 8;
            if (!jpeg_block(j, c, c->pixels + (size_t)by * 8 * stride + bx * 8, stride)) return false;
            continue;
        }
        int mx = m % mcus_w, my = m / mcus_w;
        for (int i = 0; i < j->ncomp; i++) {
            jpeg_component *c = &j->comp[i];
            int stride = c->blocks_w * 8;
            for (int by = 0; by < c->v; by++)
                for (int bx = 0; bx < c->h; bx++) {
                    size_t x = (size_t)(mx * c->h + bx) * 8, y = (size_t)(my * c->v + by) * 8;
                    if (!jpeg_block(j, c, c->pixels + y * stride + x, stride)) return false;
                }
        }
    }
    return true;
}

/* One row of a chroma plane, upsampled to the luma resolution as jpeg-decoder 0.1 does it. */
static void jpeg_chroma_row(const jpeg_decoder *j, const jpeg_component *c, int row, uint8_t *out) {
    int w = (j->width * c->h + j->hmax - 1) / j->hmax, h = (j->height * c->v + j->vmax - 1) / j->vmax;
    int stride = c->blocks_w * 8;
    if (j->hmax == 1) { /* full resolution */
        const uint8_t *in = c->pixels + (size_t)row * stride;
        for (int x = 0; x < j->width; x++) out[x] = in[x];
        return;
    }
    if (j->vmax == 1) { /* half width: a triangle filter along the row */
        const uint8_t *in = c->pixels + (size_t)row * stride;
        if (w == 1) {
            out[0] = out[1] = in[0];
            return;
        }
        out[0] = in[0];
        out[1] = (uint8_t)((in[0] * 3u + in[1] + 2) >> 2);
        for (int i = 1; i < w - 1; i++) {
            unsigned sample = 3u * in[i] + 2;
            out[i * 2] = (uint8_t)((sample + in[i - 1]) >> 2);
            out[i * 2 + 1] = (uint8_t)((sample + in[i + 1]) >> 2);
        }
        out[(w - 1) * 2] = (uint8_t)((in[w - 1] * 3u + in[w - 2] + 2) >> 2);
        out[(w - 1) * 2 + 1] = in[w - 1];
        return;
    }
    /* half width and height: the nearest row weighs 3, the next nearest 1, both ways */
    int near = row / 2, far = row % 2 ? near + 1 : near - 1;
    if (far < 0) far = 0;
    if (far > h - 1) far = h - 1;
    const uint8_t *a = c->pixels + (size_t)near * stride, *b = c->pixels + (size_t)far * stride;
    if (w == 1) {
        out[0] = out[1] = (uint8_t)((3u * a[0] + b[0] + 2) >> 2);
        return;
    }
    unsigned t1 = 3u * a[0] + b[0], t0;
    out[0] = (uint8_t)((t1 + 2) >> 2);
    for (int i = 1; i < w; i++) {
        t0 = t1;
        t1 = 3u * a[i] + b[i];
        out[i * 2 - 1] = (uint8_t)((3 * t0 + t1 + 8) >> 4);
        out[i * 2] = (uint8_t)((3 * t1 + t0 + 8) >> 4);
    }
    out[w * 2 - 1] = (uint8_t)((t1 + 2) >> 2);
}

static uint8_t jpeg_u8(float v) {
    int i = (int)(v + 0.5f);
    return i < 0 ? 0 : i > 255 ? 255 : (uint8_t)i;
}

static uint8_t *jpeg_to_grey(jpeg_decoder *j, int *width, int *height, const char **error) {
    if (!((j->hmax == 1 && j->vmax == 1) || (j->hmax == 2 && j->vmax <= 2))) {
        *error = "unsupported chroma subsampling";
        return NULL;
    }
    size_t w = (size_t)j->width;
    uint8_t *grey = bt_alloc(w * (size_t)j->height), *cb = bt_alloc(w + 2), *cr = bt_alloc(w + 2);
    if (!grey || !cb || !cr) {
        *error = "out of memory";
        return NULL;
    }
    const jpeg_component *luma = &j->comp[0];
    for (int y = 0; y < j->height; y++) {
        const uint8_t *row = luma->pixels + (size_t)y * luma->blocks_w * 8;
        uint8_t *out = grey + (size_t)y * w;
        if (j->ncomp == 1) {
            for (size_t x = 0; x < w; x++) out[x] = row[x];
            continue;
        }
        jpeg_chroma_row(j, &j->comp[1], y, cb);
        jpeg_chroma_row(j, &j->comp[2], y, cr);
        for (size_t x = 0; x < w; x++) {
            float l = row[x], b = (float)cb[x] - 128.0f, r = (float)cr[x] - 128.0f;
            float R = jpeg_u8(l + 1.40200f * r), G = jpeg_u8(l - 0.34414f * b - 0.71414f * r);
            float B = jpeg_u8(l + 1.77200f * b);
            out[x] = (uint8_t)(0.2126f * R + 0.7152f * G + 0.0722f * B);
        }
    }
    *width = j->width;
    *height = j->height;
    return grey;
}

/* Decode `data` and return its grey image (width * height bytes), or NULL with *error set. */
static uint8_t *jpeg_decode_grey(const uint8_t *data, size_t len, int *width, int *height, const char **error) {
    static jpeg_decoder j;
    j = (jpeg_decoder){0};
    j.p = data;
    j.end = data + len;
    bool framed = false, scanned = false;
    if (len < 4 || data[0] != 0xFF || data[1] != 0xD8) {
        *error = "the image is not a JPEG file";
        return NULL;
    }
    j.p += 2;
    while (!scanned && !j.error) {
        while (j.p < j.end && *j.p == 0xFF && j.p + 1 < j.end && j.p[1] == 0xFF) j.p++;
        if (j.end - j.p < 4 || j.p[0] != 0xFF) {
            jpeg_fail(&j, "the JPEG ends before its image data");
            break;
        }
        uint8_t marker = j.p[1];
        size_t seg = jpeg_u16(j.p + 2);
        const uint8_t *s = j.p + 4;
        if (seg < 2 || (size_t)(j.end - s) < seg - 2) {
            jpeg_fail(&j, "a JPEG segment is truncated");
            break;
        }
        size_t n = seg - 2;
        j.p = s + n;
        if (marker == 0xC0 || marker == 0xC1) {
            framed = jpeg_frame(&j, s, n);
        } else if (marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE) {
            jpeg_fail(&j, "progressive JPEG is not supported");
        } else if ((marker >= 0xC3 && marker <= 0xCF) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
            jpeg_fail(&j, "only baseline Huffman-coded JPEG is supported");
        } else if (marker == 0xDB) {
            for (size_t i = 0; i < n;) {
                int pq = s[i] >> 4, tq = s[i] & 15;
                size_t need = 1 + (pq ? 128 : 64);
                if (tq > 3 || i + need > n) {
                    jpeg_fail(&j, "corrupt quantization table");
                    break;
                }
                for (int k = 0; k < 64; k++)
                    j.quant[tq][k] = pq ? jpeg_u16(s + i + 1 + 2 * k) : s[i + 1 + k];
                i += need;
            }
        } else if (marker == 0xC4) {
            for (size_t i = 0; i < n;) {
                int tc = s[i] >> 4, th = s[i] & 15, total = 0;
                if (tc > 1 || th > 3 || i + 17 > n) {
                    jpeg_fail(&j, "corrupt Huffman table");
                    break;
                }
                jpeg_huffman *h = tc ? &j.ac[th] : &j.dc[th];
                h->bits[0] = 0;
                for (int k = 1; k <= 16; k++) total += h->bits[k] = s[i + k];
                if (total > 256 || i + 17 + (size_t)total > n) {
                    jpeg_fail(&j, "corrupt Huffman table");
                    break;
                }
                for (int k = 0; k < total; k++) h->values[k] = s[i + 17 + k];
                if (!jpeg_build_huffman(h)) jpeg_fail(&j, "corrupt Huffman table");
                i += 17 + (size_t)total;
            }
        } else if (marker == 0xDD) {
            if (n < 2) jpeg_fail(&j, "corrupt restart interval");
            else j.restart_interval = jpeg_u16(s);
        } else if (marker == 0xDA) {
            if (!framed) jpeg_fail(&j, "the image data comes before the frame header");
            else scanned = jpeg_scan(&j, s, n);
            /* the scan's entropy-coded data follows the header */
        } else if (marker == 0xD9) {
            jpeg_fail(&j, "the JPEG has no image data");
        }
        if (marker == 0xDA) break;
    }
    if (j.error || !scanned) {
        *error = j.error ? j.error : "the JPEG has no image data";
        return NULL;
    }
    return jpeg_to_grey(&j, width, height, error);
}

#endif
