/*
 * Add two numbers given as arguments: the smallest useful payload.
 *
 *   teabox build add.c -o add.wasm
 *   teabox run add.wasm --arg a=35 --arg b=7        -> result 42
 *
 * Arguments: `a` and `b`, decimal integers. The sum is the run's result (an
 * int, so it must fit in 32 bits). A missing or malformed argument, or a sum
 * that does not fit, traps: the run fails instead of returning a number that
 * could be mistaken for a sum.
 */
#include "teabox.h"

static int64_t argument(int argc, char *argv[], const char *key) {
    int64_t value;
    const char *text = teabox_arg(argc, argv, key);
    if (text == NULL || teabox_parse_i64(text, &value) != 0) __builtin_trap();
    return value;
}

int entrypoint(int argc, char *argv[]) {
    int64_t sum = argument(argc, argv, "a") + argument(argc, argv, "b");
    if (sum < INT32_MIN || sum > INT32_MAX) __builtin_trap();
    return (int)sum;
}
