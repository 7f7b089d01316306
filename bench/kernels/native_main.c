/*
 * The native baseline's harness: runs a kernel `reps` times in one process and
 * prints "checksum seconds" per repetition, timed around the kernel call alone,
 * so process start-up and page-in never count against native code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

unsigned run_kernel(unsigned n);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char *argv[]) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s N REPETITIONS\n", argv[0]);
        return 2;
    }
    unsigned n = (unsigned)strtoul(argv[1], NULL, 10);
    int reps = atoi(argv[2]);
    for (int i = 0; i < reps; ++i) {
        double start = now();
        unsigned checksum = run_kernel(n);
        double elapsed = now() - start;
        printf("%u %.9f\n", checksum, elapsed);
        fflush(stdout);
    }
    return 0;
}
