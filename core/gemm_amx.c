/* gemm_amx.c - the AMX kernel of elmo_gemm (bf16 tiles, tdpbf16ps): the packed layout,
 * the permission Linux asks for, and the product. Chosen at pack time on CPUs with
 * AMX-BF16 (Intel Sapphire Rapids and later) when the process may use the tile state.
 *
 * Tiles. Eight tile registers: C00 C01 C10 C11 (tmm0-3, fp32 [rows, 16]), A0 A1 (tmm4-5,
 * bf16 pairs [rows, 16 pairs]) and B0 B1 (tmm6-7, [16 pairs, 16 columns, 2]): each step of
 * k takes 32 values of k (one k-tile) and does 4 tdpbf16ps, C_ij += A_i . B_j, for a block
 * of 32 rows x 32 columns. Rows of a block past M use shorter tiles (a tile may have 1 to
 * 16 rows), so nothing past A or C is read or written.
 *
 * Rounding. Every C element starts at (accumulate ? C : 0) and takes the k-tiles 0, 1, 2,
 * ... in ascending order, each one tdpbf16ps; K is padded with zeros to a multiple of 32
 * in W and in A. The k-tiles never change with M, the row's place or the thread, and the
 * hardware computes each row of a tile independently of the others (a row gives the same
 * bits in a 1-row tile as in a 16-row one, at any position), so a row of C depends only
 * on its row of A: the contract of gemm.h. Blocking K round-trips C through memory as
 * float32, which is exact.
 *
 * GCC 12's AMX intrinsics are inline asm without memory operands (the compiler may drop
 * the stores that fill the tile configuration, or move stores to A past a tile load):
 * the few instructions are written here as asm with a "memory" clobber, or with the whole
 * configuration as an operand. */
#define _GNU_SOURCE /* syscall */
#include "gemm_internal.h"

#include "bigbuf.h"

#include <string.h>

/* ---- packed layout (plain C: used only when the kernel is) --------------------------------
 * K is padded to Kp = 32 KT (KT k-tiles), N to 32 NS (NS strips of 32 columns). The
 * k-tiles are cut into k-blocks of AMX_KB (16) k-tiles; k-block by k-block, the strips one
 * after the other, each [kb][2][16][16][2] bf16 (kb k-tiles of this k-block): for k-tile t,
 * tile j (columns 32 s + 16 j ..) is 1 KiB, row p (the pair of k = 32 t + 2 p, + 1) holding
 * 16 columns x 2 values. So the product walks W in memory order, which lets it fetch the
 * next part of W ahead while it works on this one. */
#define AMX_KB 16

size_t elmo_amx_packed_bytes(size_t K, size_t N) {
    size_t kt = (K + 31) / 32, ns = (N + 31) / 32;
    if (kt > SIZE_MAX / 2048 / (ns ? ns : 1)) return 0;
    return kt * ns * 2048;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)

#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

/* ---- may this process use AMX? ---------------------------------------------------------- */
static int amx_ok;
static char amx_reason[160];
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 22))) {
        snprintf(amx_reason, sizeof amx_reason, "this CPU has no AMX-BF16 tile unit");
        return;
    }
    /* The OS must enable the tile state in XCR0 (bits 17 TILECFG and 18 TILEDATA). */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) {
        snprintf(amx_reason, sizeof amx_reason,
                 "the operating system does not enable the AMX tile state (XCR0)");
        return;
    }
    /* Linux 5.16+: the tile data is off until the process asks (once, for all threads). */
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        snprintf(amx_reason, sizeof amx_reason,
                 "Linux refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM: %s)",
                 strerror(errno));
        return;
    }
    amx_ok = 1;
}

int elmo_gemm_amx_usable(const char **reason) {
    pthread_once(&amx_once, amx_probe);
    if (reason) *reason = amx_ok ? NULL : amx_reason;
    return amx_ok;
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
#include <immintrin.h>

/* The tile configuration of ldtilecfg (palette 1). */
typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

#define TILE_LOAD(t, base, stride)                                                                 \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"(base), "r"((long)(stride)) : "memory")
#define TILE_STORE(t, base, stride)                                                                \
    __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"(base), "r"((long)(stride))          \
                     : "memory")
#define TILE_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::)
#define TILE_DP(c, a, b) __asm__ volatile("tdpbf16ps %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)

/* Rows of the first and second 16-row half of a block: C00 C01 A0 have r0 rows, C10 C11
 * A1 r1 (0: unused, left unconfigured); B0 B1 are always 16 pairs. */
static void load_config(int r0, int r1) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        int rows = t == 0 || t == 1 || t == 4 ? r0 : t == 2 || t == 3 || t == 5 ? r1 : 16;
        cfg.rows[t] = (uint8_t)rows;
        cfg.colsb[t] = rows ? 64 : 0;
    }
    __asm__ volatile("ldtilecfg %0" ::"m"(cfg) : "memory");
}

#define NB_BYTES (256u << 10)  /* bytes of W per column block: it and the next fit L2 */
#define ABUF_BYTES (64u << 10) /* A converted to bf16, on the stack */
#define ABUF_MAX (1u << 20)    /* ... or on the heap, for up to 1 MiB (1024 rows of K 512) */

/* The part of W to fetch into L2 while this column block is computed: `step` bytes at
 * each k-tile step, so that the next block arrives evenly over this one's work. */
typedef struct prefetch {
    const char *p, *end;
    size_t step;
} prefetch;

static inline __attribute__((always_inline)) void fetch_ahead(prefetch *f) {
    const char *stop = f->p + f->step < f->end ? f->p + f->step : f->end;
    for (; f->p < stop; f->p += 64) _mm_prefetch(f->p, _MM_HINT_T1);
}

/* Rounds A [mb, kn] (row stride lda) to bf16 as elmo_bf16_round does, into A tiles: rows
 * in groups of 16, each group kp / 32 tiles of [16 rows][32 values] (1 KiB, loaded with a
 * 64-byte stride: one tile is 16 consecutive lines, not 16 lines a row apart that share
 * cache sets). Values kn .. kp-1 are zero; rows past mb in the last group are not
 * written (a short tile never reads them). */
static void convert_rows(const float *A, size_t lda, size_t mb, size_t kn, uint16_t *out,
                         size_t kp) {
    size_t kt = kp / 32;
    for (size_t m = 0; m < mb; m++) {
        const float *a = A + m * lda;
        uint16_t *o = out + (m / 16) * kt * 512 + (m % 16) * 32;
        for (size_t k = 0; k < kp; k += 32) {
            size_t left = k < kn ? kn - k : 0;
            __m512 x0 = _mm512_maskz_loadu_ps(gemm_mask_lo(left), a + k);
            __m512 x1 = _mm512_maskz_loadu_ps(gemm_mask_hi(left), a + k + 16);
            _mm512_storeu_si512((void *)(o + k / 32 * 512), (__m512i)_mm512_cvtne2ps_pbh(x1, x0));
        }
    }
}

/* Offset in bf16 values of k-tile t of strip s. */
static size_t tile_pair_at(size_t KT, size_t NS, size_t t, size_t s) {
    size_t t0 = t / AMX_KB * AMX_KB, kb = KT - t0 < AMX_KB ? KT - t0 : AMX_KB;
    return (t0 * NS + s * kb + (t - t0)) * 1024;
}

/* 16 columns of rows k (even) and k + 1 of W as one tile row: 16 pairs (bf16 of row k in
 * the low half of each 32-bit word), rounded as elmo_bf16_round (vcvtneps2bf16 is that
 * rounding). Columns past `cols` and a missing odd row are zero. */
static void pack_pair_row(const float *even, const float *odd, size_t cols, uint16_t *out) {
    __mmask16 m = (__mmask16)(cols >= 16 ? 0xffff : (1u << cols) - 1);
    __m256i lo = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, even));
    __m256i hi =
        odd ? (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, odd)) : _mm256_setzero_si256();
    __m512i pair = _mm512_or_si512(_mm512_cvtepu16_epi32(lo),
                                   _mm512_slli_epi32(_mm512_cvtepu16_epi32(hi), 16));
    _mm512_storeu_si512((void *)out, pair);
}

void elmo_amx_pack(const float *w, size_t ldw, size_t K, size_t N, uint16_t *out) {
    size_t KT = (K + 31) / 32, NS = (N + 31) / 32;
    memset(out, 0, elmo_amx_packed_bytes(K, N));
    for (size_t k = 0; k < K; k += 2) { /* rows of W in order: read once, sequentially */
        const float *even = w + k * ldw, *odd = k + 1 < K ? even + ldw : NULL;
        size_t t = k / 32, p = (k % 32) / 2;
        for (size_t s = 0; s < NS; s++)
            for (size_t j = 0; j < 2; j++) {
                size_t n = 32 * s + 16 * j;
                if (n >= N) break;
                uint16_t *row = out + tile_pair_at(KT, NS, t, s) + j * 512 + p * 32;
                pack_pair_row(even + n, odd ? odd + n : NULL, N - n, row);
            }
    }
}

/* One block: C [rows, 32] (row stride ldc bytes; rows = r0 + r1 of the configuration)
 * (+)= A [rows, kt k-tiles] (the A tiles of convert_rows: kt tiles of the first 16 rows,
 * then kt of the next) . strip b [kt][2][16][16][2]. */
static inline __attribute__((always_inline)) void block(const int two, const uint16_t *a,
                                                        const uint16_t *b, size_t kt, float *c,
                                                        size_t ldc, int load, prefetch *f) {
    const uint16_t *a1 = a + kt * 512;
    float *c1 = (float *)((char *)c + 16 * ldc);
    if (load) {
        TILE_LOAD(0, c, ldc);
        TILE_LOAD(1, c + 16, ldc);
        if (two) {
            TILE_LOAD(2, c1, ldc);
            TILE_LOAD(3, c1 + 16, ldc);
        }
    } else {
        TILE_ZERO(0);
        TILE_ZERO(1);
        if (two) {
            TILE_ZERO(2);
            TILE_ZERO(3);
        }
    }
    for (size_t t = 0; t < kt; t++) {
        const uint16_t *bt = b + t * 1024;
        fetch_ahead(f);
        TILE_LOAD(4, a + t * 512, 64);
        TILE_LOAD(6, bt, 64);
        TILE_DP(0, 4, 6);
        TILE_LOAD(7, bt + 512, 64);
        TILE_DP(1, 4, 7);
        if (two) {
            TILE_LOAD(5, a1 + t * 512, 64);
            TILE_DP(2, 5, 6);
            TILE_DP(3, 5, 7);
        }
    }
    TILE_STORE(0, c, ldc);
    TILE_STORE(1, c + 16, ldc);
    if (two) {
        TILE_STORE(2, c1, ldc);
        TILE_STORE(3, c1 + 16, ldc);
    }
}

/* A block whose strip is the last, with columns past N: through a bounce buffer, so
 * that no element of C past N is read or written. */
static void tail_block(int two, size_t rows, const uint16_t *a, const uint16_t *b, size_t kt,
                       float *c, size_t ldc, size_t cols, int load, prefetch *f) {
    float bounce[32 * 32] __attribute__((aligned(64))); /* [rows, 32] */
    memset(bounce, 0, sizeof bounce);
    if (load)
        for (size_t m = 0; m < rows; m++)
            memcpy(bounce + m * 32, (const char *)c + m * ldc, cols * sizeof(float));
    __asm__ volatile("" ::: "memory");
    if (two) block(1, a, b, kt, bounce, 128, load, f);
    else block(0, a, b, kt, bounce, 128, load, f);
    for (size_t m = 0; m < rows; m++)
        memcpy((char *)c + m * ldc, bounce + m * 32, cols * sizeof(float));
}

/* What one column block of one k-block computes: rows [i0, i1) of the converted chunk
 * abuf (row stride kp) against strips [s0, s1) of the k-block at blk (strip s at
 * blk + s kt 1024), into C rows crow (row stride ldc). Row block by row block: the 32
 * rows' A tiles stay in L1 while the strips of the block come from L2. */
typedef struct col_block {
    const uint16_t *abuf, *blk;
    size_t kp, kt, s0, s1, N, ldc;
    float *crow;
    int load;
} col_block;

static void rows_by_strips(const col_block *cb, size_t i0, size_t i1, prefetch *f) {
    size_t ldc_b = cb->ldc * sizeof(float);
    for (size_t i = i0; i < i1; i += 32) {
        size_t rows = i1 - i < 32 ? i1 - i : 32;
        const uint16_t *a = cb->abuf + i * cb->kp; /* i / 16 groups of kt tiles */
        for (size_t s = cb->s0; s < cb->s1; s++) {
            const uint16_t *b = cb->blk + s * cb->kt * 1024;
            float *c = cb->crow + i * cb->ldc + 32 * s;
            size_t cols = cb->N - 32 * s;
            if (cols < 32) tail_block(rows > 16, rows, a, b, cb->kt, c, ldc_b, cols, cb->load, f);
            else if (rows > 16) block(1, a, b, cb->kt, c, ldc_b, cb->load, f);
            else block(0, a, b, cb->kt, c, ldc_b, cb->load, f);
        }
    }
}

void elmo_gemm_bf16_amx(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                        size_t ldc, int accumulate) {
    uint16_t stack_buf[ABUF_BYTES / 2] __attribute__((aligned(64))); /* A [mc, kp] in bf16 */
    size_t K = (size_t)W->K, N = (size_t)W->N, KT = (K + 31) / 32, NS = (N + 31) / 32;
    /* All of A's rows in one buffer where they fit ABUF_MAX: then each k-block converts A
     * once, not once per column block (at AMX's speed the conversion would cost a tenth of
     * the product). Without that buffer, chunks of the stack one: the same bits. */
    size_t kp_max = 32 * (KT < AMX_KB ? KT : AMX_KB), rows_up = (M + 31) / 32 * 32;
    size_t cap = ABUF_BYTES;
    uint16_t *heap = NULL, *abuf = stack_buf;
    if (rows_up * kp_max * 2 > ABUF_BYTES && rows_up * kp_max * 2 <= ABUF_MAX &&
        (heap = elmo_big_alloc(rows_up * kp_max * 2)))
        abuf = heap, cap = rows_up * kp_max * 2;
    const uint16_t *data = W->data;
    const char *w_end = (const char *)W->data + W->bytes;
    int config = -1; /* rows of the loaded configuration, as r0 * 32 + r1 */
    for (size_t t0 = 0; t0 < KT; t0 += AMX_KB) {
        size_t kt = KT - t0 < AMX_KB ? KT - t0 : AMX_KB, kp = 32 * kt;
        size_t k0 = 32 * t0, kn = K - k0 < kp ? K - k0 : kp;
        size_t mc = cap / (kp * 2) / 32 * 32;        /* >= 32: kp <= 32 AMX_KB */
        size_t nbs = NB_BYTES / (kp * 64);           /* strips per column block */
        const uint16_t *blk = data + t0 * NS * 1024; /* this k-block's strips */
        int one_chunk = M <= mc; /* then A is converted once for every column block */
        if (one_chunk) convert_rows(A + k0, lda, M, kn, abuf, kp);
        for (size_t s0 = 0; s0 < NS; s0 += nbs) {
            size_t s1 = s0 + nbs < NS ? s0 + nbs : NS;
            /* fetch the next column block (in memory order) into L2 over this block's
             * k-steps. Not for one row block: it streams W faster than a prefetch issued a
             * block ahead can arrive, and the hardware prefetchers do better alone
             * (measured: 536 against 442 GFLOP/s at M = 16) */
            const char *next = (const char *)(blk + s1 * kt * 1024);
            size_t steps = (M + 31) / 32 * (s1 - s0) * kt, bytes = (s1 - s0) * kt * 2048;
            const char *end = M <= 32 ? next : next + bytes < w_end ? next + bytes : w_end;
            prefetch f = {next, end, ((size_t)(end - next) / steps + 63) / 64 * 64};
            for (size_t r0 = 0; r0 < M; r0 += mc) {
                size_t mb = M - r0 < mc ? M - r0 : mc;
                if (!one_chunk) convert_rows(A + r0 * lda + k0, lda, mb, kn, abuf, kp);
                col_block cb = {abuf, blk, kp,  kt,           s0,
                                s1,   N,   ldc, C + r0 * ldc, accumulate || t0 > 0};
                /* the full 32-row blocks with one configuration, then the rows left */
                size_t full = mb / 32 * 32, rest = mb - full;
                if (full) {
                    if (config != 16 * 32 + 16) load_config(16, 16), config = 16 * 32 + 16;
                    rows_by_strips(&cb, 0, full, &f);
                }
                if (rest) {
                    int ra = rest < 16 ? (int)rest : 16, rb = (int)rest - ra;
                    if (config != ra * 32 + rb) load_config(ra, rb), config = ra * 32 + rb;
                    rows_by_strips(&cb, full, mb, &f);
                }
            }
        }
    }
    __asm__ volatile("tilerelease" ::: "memory");
    elmo_big_free(heap);
}

#pragma GCC pop_options

#else /* no AMX kernel in this build */

int elmo_gemm_amx_usable(const char **reason) {
    if (reason) *reason = "this build has no AMX kernel (GCC on x86-64 builds it)";
    return 0;
}

void elmo_gemm_bf16_amx(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                        size_t ldc, int accumulate) {
    (void)A, (void)lda, (void)M, (void)W, (void)C, (void)ldc, (void)accumulate;
}

void elmo_amx_pack(const float *w, size_t ldw, size_t K, size_t N, uint16_t *out) {
    (void)w, (void)ldw, (void)K, (void)N, (void)out;
}

#endif
