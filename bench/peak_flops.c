/* This machine's f64 peak, measured: an FMA-bound loop (12 independent chains of 4-wide
 * AVX2 fused multiply-adds, enough to cover the FMA latency on two pipes), on T threads.
 * Each thread reports flops per second of its own CPU time (CLOCK_THREAD_CPUTIME_ID: the
 * measure on a machine shared with other work) and per wall second; a flop is one add or one
 * multiply, so one 4-wide FMA is 8 flops.
 * Build and run: gcc -O2 -mavx2 -mfma -pthread bench/peak_flops.c -o /tmp/peak && /tmp/peak 1 && /tmp/peak 2 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12
static long iterations = 200000000L;

static double seconds(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct { double cpu, wall, sink; } result;

#define FMA(x) x = _mm256_fmadd_pd(x, a, b)
#define INIT(x, c) __m256d x = _mm256_set1_pd(1.0 + (c) * 1e-3)

static void *work(void *arg) {
    result *r = arg;
    INIT(x0, 0); INIT(x1, 1); INIT(x2, 2); INIT(x3, 3); INIT(x4, 4); INIT(x5, 5);
    INIT(x6, 6); INIT(x7, 7); INIT(x8, 8); INIT(x9, 9); INIT(x10, 10); INIT(x11, 11);
    const __m256d a = _mm256_set1_pd(0.999999999), b = _mm256_set1_pd(1e-9);
    double c0 = seconds(CLOCK_THREAD_CPUTIME_ID), w0 = seconds(CLOCK_MONOTONIC);
    for (long i = 0; i < iterations; i++) {
        FMA(x0); FMA(x1); FMA(x2); FMA(x3); FMA(x4); FMA(x5);
        FMA(x6); FMA(x7); FMA(x8); FMA(x9); FMA(x10); FMA(x11);
        /* keeps the twelve chains in registers and the loop from being folded */
        __asm__ volatile("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5),
                         "+x"(x6), "+x"(x7), "+x"(x8), "+x"(x9), "+x"(x10), "+x"(x11));
    }
    r->cpu = seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    r->wall = seconds(CLOCK_MONOTONIC) - w0;
    __m256d all[CHAINS] = {x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11};
    double s = 0, out[4];
    for (int c = 0; c < CHAINS; c++) {
        _mm256_storeu_pd(out, all[c]);
        s += out[0] + out[1] + out[2] + out[3];
    }
    r->sink = s;
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (argc > 2) iterations = atol(argv[2]);
    if (threads < 1 || threads > 64 || iterations < 1) {
        fprintf(stderr, "usage: peak [threads 1..64] [iterations]\n");
        return 2;
    }
    pthread_t t[64];
    result r[64];
    double w0 = seconds(CLOCK_MONOTONIC);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, work, &r[i]);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double wall = seconds(CLOCK_MONOTONIC) - w0;
    double flops = (double)iterations * CHAINS * 8.0;
    double per_cpu = 0, sink = 0;
    for (int i = 0; i < threads; i++) {
        per_cpu += flops / r[i].cpu;
        sink += r[i].sink;
        printf("thread %d: %.2f GFLOP/s per CPU-second, %.2f GFLOP/s per wall-second\n", i,
               flops / r[i].cpu * 1e-9, flops / r[i].wall * 1e-9);
    }
    printf("%d threads: %.2f GFLOP/s wall (all threads), mean %.2f GFLOP/s per CPU-second "
           "(check %g)\n", threads, threads * flops / wall * 1e-9, per_cpu / threads * 1e-9,
           sink > 0 ? 1.0 : 0.0);
    return 0;
}
