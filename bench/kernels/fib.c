/* Naive recursive Fibonacci: call overhead and the wasm stack. */
#include "common.h"

static u32 fib(u32 n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

u32 run_kernel(u32 n) {
    return fib(n);
}
