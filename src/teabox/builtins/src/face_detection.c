/*
 * builtin-face-detection, without its detector.
 *
 * Teaclave's face detection ran rustface's SeetaFace funnel cascade with the
 * trained model seeta_fd_frontal_v1.0.bin, which teabox does not have (see
 * docs/builtins.md). This payload does every step that needs no model: it
 * checks the arguments as Teaclave's contract states them (where Teaclave
 * panicked on a value out of range, it names the value), and decodes the
 * `image` argument, a JSON array of the bytes of a JPEG file, to the grey
 * image the detector would have searched. It then fails, saying that the
 * model is missing, rather than report that no face was found.
 *
 * Optional arguments: `window_size` (>= 20; the detector always used 40),
 * `slide_window_step_x` and `slide_window_step_y` (>= 1, given together),
 * `min_face_size` (>= 20), `max_face_size`, `pyramid_scale_factor` (0.01 to
 * 0.99) and `score_thresh` (> 0).
 */
#include "builtin.h"
#include "jpeg.h"
#include "numbers.h"

/* The JSON array of byte values in `text`; false after reporting the error. */
static bool byte_array(const char *text, bt_str *out) {
    bt_buf bytes = {0};
    const char *p = text;
    while (bt_is_space(*p)) p++;
    if (*p++ != '[') return bt_bad_argument("image", "must be an array of byte values"), false;
    while (bt_is_space(*p)) p++;
    if (*p == ']') p++;
    else
        for (;;) {
            while (bt_is_space(*p)) p++;
            unsigned v = 0;
            int digits = 0;
            for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++) v = v * 10 + (unsigned)(*p - '0');
            if (!digits || v > 255)
                return bt_bad_argument("image", "must be an array of byte values (integers 0 to 255)"), false;
            bt_putc(&bytes, (char)v);
            while (bt_is_space(*p)) p++;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p++ == ']') break;
            return bt_bad_argument("image", "must be an array of byte values"), false;
        }
    while (bt_is_space(*p)) p++;
    if (*p) return bt_bad_argument("image", "must be an array of byte values"), false;
    if (bytes.failed) return bt_fail_oom(), false;
    *out = (bt_str){bytes.data, bytes.len};
    return true;
}

/* An optional unsigned argument of at least `min`; false after reporting the error. */
static bool optional_u64(int argc, char *argv[], const char *key, uint64_t min, uint64_t *out) {
    if (!teabox_arg(argc, argv, key)) return true;
    if (!bt_arg_u64(argc, argv, key, out)) return false;
    if (*out < min) {
        bt_buf m = {0};
        bt_puts(&m, key);
        bt_puts(&m, " must be at least ");
        bt_put_u64(&m, min);
        return bt_fail_buf(&m), false;
    }
    return true;
}

static bool optional_f32(int argc, char *argv[], const char *key, float low, float high, bool open_low, float *out) {
    const char *v = teabox_arg(argc, argv, key);
    if (!v) return true;
    if (!num_parse_f32(v, teabox_strlen(v), out) || *out != *out)
        return bt_bad_argument(key, "must be a number"), false;
    if ((open_low ? *out <= low : *out < low) || *out > high) {
        bt_buf m = {0};
        bt_puts(&m, key);
        bt_puts(&m, open_low ? " must be above " : " must be between ");
        char s[48];
        bt_put(&m, s, (size_t)num_format_f32(s, low, NUM_JSON32));
        if (!open_low) {
            bt_puts(&m, " and ");
            bt_put(&m, s, (size_t)num_format_f32(s, high, NUM_JSON32));
        }
        return bt_fail_buf(&m), false;
    }
    return true;
}

int entrypoint(int argc, char *argv[]) {
    const char *image_text = bt_arg_str(argc, argv, "image");
    if (!image_text) return -1;
    uint64_t window = 40, step_x = 4, step_y = 4, min_face = 20, max_face = 0;
    float scale = 0.8f, threshold = 3.85f;
    bool has_x = teabox_arg(argc, argv, "slide_window_step_x"), has_y = teabox_arg(argc, argv, "slide_window_step_y");
    if (!optional_u64(argc, argv, "window_size", 20, &window) ||
        !optional_u64(argc, argv, "slide_window_step_x", 1, &step_x) ||
        !optional_u64(argc, argv, "slide_window_step_y", 1, &step_y) ||
        !optional_u64(argc, argv, "min_face_size", 20, &min_face) ||
        !optional_u64(argc, argv, "max_face_size", 0, &max_face) ||
        !optional_f32(argc, argv, "pyramid_scale_factor", 0.01f, 0.99f, false, &scale) ||
        !optional_f32(argc, argv, "score_thresh", 0.0f, __FLT_MAX__, true, &threshold))
        return -1;
    if (has_x != has_y) return bt_fail("slide_window_step_x and slide_window_step_y must be given together");

    bt_str image;
    if (!byte_array(image_text, &image)) return -1;
    int width, height;
    const char *error = NULL;
    if (!jpeg_decode_grey((const uint8_t *)image.p, image.len, &width, &height, &error)) {
        bt_buf m = {0};
        bt_puts(&m, "the image cannot be decoded: ");
        bt_puts(&m, error);
        return bt_fail_buf(&m);
    }
    bt_buf m = {0};
    bt_puts(&m, "face detection needs rustface's SeetaFace frontal model (seeta_fd_frontal_v1.0.bin), which this "
                "teabox does not ship: the ");
    bt_put_u64(&m, (uint64_t)width);
    bt_putc(&m, 'x');
    bt_put_u64(&m, (uint64_t)height);
    bt_puts(&m, " image was decoded, but no detection can run without the model");
    return bt_fail_buf(&m);
}
