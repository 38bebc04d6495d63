/* The machine's f64 peak: independent chains of fused multiply-adds on the widest vectors
 * (AVX-512 when compiled with -mavx512f, else AVX2), one thread per core (OpenMP). Prints
 * one JSON line: GFLOP/s (2 flops per lane per FMA) per wall second over all threads, and per
 * CPU second (one core's rate, meaningful on a shared machine).
 *   cc -O3 -march=native -fopenmp bench/fma_peak.c -o fma_peak && ./fma_peak [THREADS]  */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__)
typedef __m512d vec;
#define LANES 8
#define FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define SET1(x) _mm512_set1_pd(x)
#define SUM(v) _mm512_reduce_add_pd(v)
#else
typedef __m256d vec;
#define LANES 4
#define FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define SET1(x) _mm256_set1_pd(x)
static double SUM(vec v) { double t[4]; _mm256_storeu_pd(t, v); return t[0] + t[1] + t[2] + t[3]; }
#endif
#define CHAINS 12

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    long iters = 1000000000L / CHAINS;
    double sink = 0.0, t0 = omp_get_wtime();
    clock_t c0 = clock();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
        vec acc[CHAINS], a = SET1(0.999999), b = SET1(1e-9);
        for (int k = 0; k < CHAINS; k++) acc[k] = SET1(k);
        for (long i = 0; i < iters; i++)
            for (int k = 0; k < CHAINS; k++) acc[k] = FMA(acc[k], a, b);
        for (int k = 0; k < CHAINS; k++) sink += SUM(acc[k]);
    }
    double secs = omp_get_wtime() - t0, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    double flops = 2.0 * LANES * CHAINS * (double)iters * threads;
    printf("{\"bench\": \"fma_peak\", \"lanes\": %d, \"threads\": %d, \"gflops_wall\": %.1f, "
           "\"gflops_per_cpu_second\": %.1f, \"seconds\": %.3f, \"cpu_seconds\": %.3f, "
           "\"sink\": %g}\n",
           LANES, threads, flops / secs / 1e9, flops / cpu / 1e9, secs, cpu, sink);
    return 0;
}
