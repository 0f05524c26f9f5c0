/*-------------------------------------------------------------------------
 *
 * compact.c
 *	  Scoring a catalogue from int8 item factors, then re-scoring exactly
 *	  every item that could enter the list, so that the ranking is exact
 *	  (personalize.compact_scoring).
 *
 * recommend() computes a logit for every item of the catalogue (the
 * softmax is over all of them), streaming the n_items x k float factors
 * per request: 6.8 MB at 27k items and k = 64, 256 MB at a million.  The
 * compact copy stores item i as scale_i * codes_i, codes in [-127, 127]
 * (scale_i = max_f |y_if| / 127), a quarter of the bytes; the user vector
 * is coded in 16 bits (x_step, one code per factor), and a logit is one
 * integer dot product, which AVX-512 VNNI does 64 bytes at a time and
 * AVX2 16 at a time.
 *
 * The compact logit a_i is within a known distance of the exact one t_i:
 *     |t_i - a_i| <= (x_step / 2) ||y_i||_1 + (||x'||_1 / 2) scale_i
 * (x' the coded user vector; each code is within half a step of the value
 * it codes), plus a margin for float rounding.  CompactTopK makes the best
 * `depth` scores exact: it takes the depth best compact scores, whose lower
 * bounds show that the depth-th best exact score is at least some floor,
 * and re-scores exactly every item whose upper bound reaches that floor.
 * No other item can be among the best depth, so those come out in the
 * exact order with their exact scores (exact as a float dot product: the
 * float path's matrix product adds in another order, so two items whose
 * logits differ by rounding alone may come out the other way).  Items already exact keep
 * their score; a score the request has changed since (an exploration
 * bonus, added to the logit) gets that change again, added to the exact
 * logit: the query records what was added (compact_added), so that no copy
 * of the compact logits is kept (4 MB more to write per request over a
 * million items).  The softmax
 * denominator then sums exact terms for the re-scored items and compact
 * ones for the rest (whose logits are within the bound, and which weigh
 * least).
 *
 * The scan also records, per span of COMPACT_SPAN items, the largest
 * compact logit and the sum of the logits: the passes after it visit only
 * the spans whose bound can reach the list (topk.c), and exploration takes
 * its mean from the sums (exploration.c).  Every place that raises a score
 * afterwards raises its span's bound with it.
 *
 * The integer dot products are exact, so every code path (VNNI, AVX2 or
 * plain) gives the same compact scores, to the bit.  Nothing here calls a
 * PostgreSQL API but palloc and CHECK_FOR_INTERRUPTS.
 *
 * Copyright (c) 2026, personalize developers
 *
 * IDENTIFICATION
 *	  src/compact.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "port/pg_bitutils.h"

#include "compact.h"
#include "exploration.h"
#include "kernel.h"
#include "personalize.h"
#include "topk.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define COMPACT_X86 1
#include <immintrin.h>
#define COMPACT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define COMPACT_CLONES
#endif

/* How many candidates ahead CompactTopK asks for a factor row. */
#define COMPACT_RESCORE_AHEAD 8

/*
 * From this many items on, the scan writes the logits with streaming
 * stores: the codes it streams (32 MB here at k = 64) evict the logits
 * from the caches before anything reads them again, and a plain store
 * first reads each line it writes from memory.  A million items: 4 MB
 * less to read per array, and a request's median 4.2-5.3 ms -> 3.9-4.6
 * ms.  Below it the logits stay in the caches for the passes after.
 */
#define COMPACT_STREAM_MIN_ITEMS (1 << 19)

/* Where the code of item i's factor f is. */
static inline Size
compact_offset(const CompactFactors *cf, int32 i, int f)
{
	return (Size) (i / COMPACT_BLOCK) * cf->stride * COMPACT_BLOCK +
		(Size) (f / 4) * 4 * COMPACT_BLOCK + (i % COMPACT_BLOCK) * 4 + f % 4;
}

/* The largest 16-bit code of the user vector (see CompactBegin). */
#define COMPACT_X_MAX_CODE (127 * 256)

StaticAssertDecl(COMPACT_SPAN == KERNEL_SKIP_BLOCK && COMPACT_SPAN % COMPACT_BLOCK == 0,
				 "compact spans are topk.c's spans, whole blocks");

/* k <= COMPACT_MAX_FACTORS: integer dot products fit in 32 bits */
#define COMPACT_MAX_GROUPS (COMPACT_MAX_FACTORS / 4)

/*
 * Below this largest |x_f| the user vector is coded as zero: its 16-bit
 * step would be subnormal (or zero), and the bound uses |x_f| itself.
 */
#define COMPACT_X_TINY 1e-30f

/* 64-bit words of the bits marking n_items items exact. */
static inline Size
compact_exact_words(int32 n_items)
{
	return (Size) (n_items + 63) / 64;
}

/* Added to the bound per unit of max |x|: float rounding of both scores. */
#define COMPACT_ROUNDING 1e-5f

/* Bytes of each array in a compact blob, each aligned to COMPACT_ALIGN. */
static Size
compact_array_bytes(Size bytes)
{
	return TYPEALIGN(COMPACT_ALIGN, bytes);
}

/* The header of a blob: what its arrays do not say. */
typedef struct CompactHeader
{
	float		max_scale;
	float		max_l1;
} CompactHeader;

/*
 * Bytes CompactBuildInto needs for n_items x k factors (from a
 * COMPACT_ALIGN-aligned address): the header, then codes, scales, code
 * sums and L1 norms, over whole blocks of items.
 */
Size
CompactBytes(int32 n_items, int32 k)
{
	Size		padded = (Size) (n_items + COMPACT_BLOCK - 1) / COMPACT_BLOCK * COMPACT_BLOCK;
	Size		stride = (k + COMPACT_ALIGN - 1) / COMPACT_ALIGN * COMPACT_ALIGN;

	return compact_array_bytes(sizeof(CompactHeader)) + compact_array_bytes(padded * stride) +
		3 * compact_array_bytes(sizeof(float) * Max(padded, 1));
}

/*
 * A view of the blob of CompactBytes(n_items, k) bytes at blob (palloc'd
 * in the current memory context; the blob is not copied).
 */
CompactFactors *
CompactFromBlob(char *blob, int32 n_items, int32 k)
{
	CompactFactors *cf = palloc0(sizeof(CompactFactors));
	Size		padded = (Size) (n_items + COMPACT_BLOCK - 1) / COMPACT_BLOCK * COMPACT_BLOCK;
	CompactHeader *header = (CompactHeader *) blob;
	char	   *next = blob + compact_array_bytes(sizeof(CompactHeader));

	Assert(blob == (char *) TYPEALIGN(COMPACT_ALIGN, blob));
	cf->n_items = n_items;
	cf->k = k;
	cf->blob = blob;
	cf->stride = (k + COMPACT_ALIGN - 1) / COMPACT_ALIGN * COMPACT_ALIGN;
	cf->codes = (int8 *) next;
	next += compact_array_bytes(padded * cf->stride);
	cf->scale = (float *) next;
	next += compact_array_bytes(sizeof(float) * Max(padded, 1));
	cf->code_sum = (int32 *) next;
	next += compact_array_bytes(sizeof(float) * Max(padded, 1));
	cf->l1 = (float *) next;
	cf->max_scale = header->max_scale;
	cf->max_l1 = header->max_l1;
	return cf;
}

/*
 * Code the n_items x k factors into the zeroed blob of CompactBytes bytes
 * at blob (aligned to COMPACT_ALIGN): a backend's own copy, or a segment
 * every backend shares (model_shared.c).
 */
void
CompactBuildInto(const float *factors, int32 n_items, int32 k, char *blob)
{
	CompactFactors *cf = CompactFromBlob(blob, n_items, k);
	CompactHeader *header = (CompactHeader *) blob;

	for (int32 i = 0; i < n_items; i++)
	{
		const float *y = factors + (Size) i * k;
		float		largest = 0.0f;
		double		l1 = 0.0;
		int32		sum = 0;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int f = 0; f < k; f++)
		{
			largest = Max(largest, fabsf(y[f]));
			l1 += fabsf(y[f]);
		}
		cf->scale[i] = largest / 127.0f;
		/* the float sum may round down: make the bound's l1 an upper bound */
		cf->l1[i] = (float) l1 * (1.0f + 1e-6f);
		for (int f = 0; f < k && largest > 0.0f; f++)
		{
			int			code = (int) rintf(y[f] / cf->scale[i]);

			code = Max(-127, Min(127, code));
			cf->codes[compact_offset(cf, i, f)] = (int8) code;
			sum += code;
		}
		cf->code_sum[i] = sum;
		header->max_scale = Max(header->max_scale, cf->scale[i]);
		header->max_l1 = Max(header->max_l1, cf->l1[i]);
	}
	pfree(cf);
}

/*
 * Code the n_items x k factors in a blob of the current memory context.
 */
CompactFactors *
CompactBuild(const float *factors, int32 n_items, int32 k)
{
	void	   *allocation = palloc_extended(CompactBytes(n_items, k) + COMPACT_ALIGN,
											 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	char	   *blob = (char *) TYPEALIGN(COMPACT_ALIGN, allocation);
	CompactFactors *cf;

	CompactBuildInto(factors, n_items, k, blob);
	cf = CompactFromBlob(blob, n_items, k);
	cf->allocation = allocation;
	return cf;
}

/*
 * Item i's compact logit from the integer dot product of its codes and the
 * user's: every loop below computes that integer exactly (k <= 512: it
 * fits in 32 bits), so they all give the same logits, to the bit.
 */
static inline float
compact_logit(const CompactQuery *q, int32 i, int32 dot)
{
	return q->cf->scale[i] * (q->x_step * (float) dot);
}

/*
 * Each span's largest logit (its bound) and the sum of its logits come
 * with the scan.  The sum is added in one order on every loop: a block's
 * item j into lane j % 8 (items 0-7, then 8-15, as the vector loops hold
 * them), the lanes of a span summed in a fixed tree when it ends, so that
 * every loop, and a helper scoring half the catalogue, give the same sums
 * to the bit (CompactFinishScoring adds the spans' in order).  The lanes
 * and the maximum stay in registers through a span's four blocks.
 */

/* Does the block of items at first end a span of the scan from..to? */
static inline bool
compact_span_ends(int32 from, int32 to, int32 first)
{
	return (first + COMPACT_BLOCK - from) % COMPACT_SPAN == 0 || first + COMPACT_BLOCK >= to;
}

/* A span's eight lanes summed in the fixed tree. */
static inline double
compact_lanes_sum(const double *l)
{
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/*
 * Compact logits of items from (a multiple of COMPACT_BLOCK) to to, into
 * scores[i - from]; portable code (the compiler vectorises).
 */
COMPACT_CLONES
static void
compact_score_plain(const CompactQuery *q, int32 from, int32 to, float *scores,
				   float *span_max, double *span_sum)
{
	const CompactFactors *cf = q->cf;
	double		lanes[8] = {0};
	float		best = -INFINITY;

	for (int32 first = from; first < to; first += COMPACT_BLOCK)
	{
		const int8 *c = cf->codes + (Size) first * cf->stride;
		int32		dot[COMPACT_BLOCK] = {0};

		/* a block's group g: its 16 items' codes of factors 4g..4g+3 */
		for (int g = 0; g < cf->stride / 4; g++)
			for (int j = 0; j < COMPACT_BLOCK; j++)
				for (int f = 0; f < 4; f++)
					dot[j] += (int32) q->x_codes[4 * g + f] * c[(g * COMPACT_BLOCK + j) * 4 + f];
		for (int j = 0; j < COMPACT_BLOCK; j++)
		{
			float		logit = compact_logit(q, first + j, dot[j]);

			if (first + j >= to)
			{
				lanes[j % 8] += 0.0;	/* as the vector loops add masked lanes */
				continue;
			}
			scores[first - from + j] = logit;
			best = Max(best, logit);
			lanes[j % 8] += logit;
		}
		if (compact_span_ends(from, to, first))
		{
			span_max[(first - from) / COMPACT_SPAN] = best;
			span_sum[(first - from) / COMPACT_SPAN] = compact_lanes_sum(lanes);
			memset(lanes, 0, sizeof(lanes));
			best = -INFINITY;
		}
	}
}

#ifdef COMPACT_X86
/*
 * Does a vector loop write the logits of cf's catalogue with streaming
 * stores (see COMPACT_STREAM_MIN_ITEMS)?  They take aligned addresses: the
 * blocks start every COMPACT_BLOCK floats from scores.
 */
static inline bool
compact_streams(const CompactFactors *cf, const float *scores, int alignment)
{
	return cf->n_items >= COMPACT_STREAM_MIN_ITEMS && (uintptr_t) scores % alignment == 0;
}

/*
 * How far ahead of the block being scored its codes are prefetched.  The
 * hardware prefetcher stops at each 4 kB page: at a million items (64 MB
 * of codes per request) the scan waited on memory without this: 3.3 ms,
 * 1.9 ms with it, in a loop outside PostgreSQL.
 */
#define COMPACT_PREFETCH_BYTES 8192

/*
 * The same with AVX-512 VNNI, which multiplies unsigned bytes by signed
 * ones, four products summed into each 32-bit lane: 16 items at a time,
 * a group of 4 factors per instruction.  Each 16-bit user code m is split
 * into m = 256 hi + lo, hi in [-127, 127] and lo in [-128, 127], both
 * stored plus 128 (unsigned); the dot products of the two are combined,
 * and the 128s undone, with the item's code sum.  Even and odd groups go
 * to separate sums, so that each instruction does not wait on the one
 * before it.
 */
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void
compact_score_vnni(const CompactQuery *q, int32 from, int32 to, float *scores,
				   float *span_max, double *span_sum)
{
	const CompactFactors *cf = q->cf;
	int			groups = cf->stride / 4;
	uint8		bytes[2][COMPACT_MAX_GROUPS * 4];	/* hi, lo: plus 128 */
	int32		words[2][COMPACT_MAX_GROUPS];	/* the same, a group's 4 at a time */
	__m512		x_step = _mm512_set1_ps(q->x_step);
	__m512d		lanes = _mm512_setzero_pd();
	__m512		best = _mm512_set1_ps(-INFINITY);
	bool		stream = compact_streams(cf, scores, 64);

	for (int f = 0; f < cf->stride; f++)
	{
		int			m = q->x_codes[f];
		int			hi = (m + 128) >> 8;	/* floor((m + 128) / 256) */

		bytes[0][f] = (uint8) (hi + 128);
		bytes[1][f] = (uint8) (m - 256 * hi + 128);
	}
	memcpy(words, bytes, sizeof(words));
	for (int32 first = from; first < to; first += COMPACT_BLOCK)
	{
		const int8 *c = cf->codes + (Size) first * cf->stride;
		__m512i		hi = _mm512_setzero_si512();
		__m512i		hi_odd = _mm512_setzero_si512();
		__m512i		lo = _mm512_setzero_si512();
		__m512i		lo_odd = _mm512_setzero_si512();
		__m512i		code_sum;
		__m512i		dot;
		__m512		logit;
		int			left = to - first;
		__mmask16	mask = left >= COMPACT_BLOCK ? (__mmask16) 0xFFFF : (__mmask16) ((1 << left) - 1);
		int			g = 0;

		for (; g + 2 <= groups; g += 2)
		{
			const int8 *pair = c + g * 4 * COMPACT_BLOCK;
			__m512i		codes = _mm512_load_si512(pair);
			__m512i		codes_odd = _mm512_load_si512(pair + 4 * COMPACT_BLOCK);

			/* past the end of the codes a prefetch does nothing */
			_mm_prefetch((const char *) pair + COMPACT_PREFETCH_BYTES, _MM_HINT_T0);
			_mm_prefetch((const char *) pair + COMPACT_PREFETCH_BYTES + 4 * COMPACT_BLOCK, _MM_HINT_T0);
			hi = _mm512_dpbusd_epi32(hi, _mm512_set1_epi32(words[0][g]), codes);
			hi_odd = _mm512_dpbusd_epi32(hi_odd, _mm512_set1_epi32(words[0][g + 1]), codes_odd);
			lo = _mm512_dpbusd_epi32(lo, _mm512_set1_epi32(words[1][g]), codes);
			lo_odd = _mm512_dpbusd_epi32(lo_odd, _mm512_set1_epi32(words[1][g + 1]), codes_odd);
		}
		if (g < groups)
		{
			__m512i		codes = _mm512_load_si512(c + g * 4 * COMPACT_BLOCK);

			hi = _mm512_dpbusd_epi32(hi, _mm512_set1_epi32(words[0][g]), codes);
			lo = _mm512_dpbusd_epi32(lo, _mm512_set1_epi32(words[1][g]), codes);
		}
		/* dot = 256 (hi - 128 code_sum) + lo - 128 code_sum */
		code_sum = _mm512_loadu_si512(cf->code_sum + first);
		dot = _mm512_sub_epi32(_mm512_slli_epi32(_mm512_add_epi32(hi, hi_odd), 8),
							   _mm512_slli_epi32(code_sum, 15));
		dot = _mm512_add_epi32(dot, _mm512_sub_epi32(_mm512_add_epi32(lo, lo_odd),
													 _mm512_slli_epi32(code_sum, 7)));
		logit = _mm512_mul_ps(_mm512_loadu_ps(cf->scale + first), _mm512_mul_ps(x_step, _mm512_cvtepi32_ps(dot)));
		if (stream && left >= COMPACT_BLOCK)
			_mm512_stream_ps(scores + (first - from), logit);
		else
			_mm512_mask_storeu_ps(scores + (first - from), mask, logit);
		/* items 0-7, then 8-15, into lanes 0-7; the items past to add 0 */
		logit = _mm512_maskz_mov_ps(mask, logit);
		lanes = _mm512_add_pd(lanes, _mm512_cvtps_pd(_mm512_castps512_ps256(logit)));
		lanes = _mm512_add_pd(lanes, _mm512_cvtps_pd(_mm256_castpd_ps(
			_mm512_extractf64x4_pd(_mm512_castps_pd(logit), 1))));
		best = _mm512_mask_max_ps(best, mask, best, logit);
		if (compact_span_ends(from, to, first))
		{
			double		l[8];

			_mm512_storeu_pd(l, lanes);
			span_max[(first - from) / COMPACT_SPAN] = _mm512_reduce_max_ps(best);
			span_sum[(first - from) / COMPACT_SPAN] = compact_lanes_sum(l);
			lanes = _mm512_setzero_pd();
			best = _mm512_set1_ps(-INFINITY);
		}
	}
	if (stream)
		_mm_sfence();
}

/*
 * The same with AVX2: vpmaddwd multiplies 16-bit codes and adds pairs of
 * products into 32 bits.  A 32-byte load holds 8 items' codes of a group
 * (4 bytes each): taken as 16-bit words, shifting right by 8 (keeping the
 * sign) gives each item's codes of factors 1 and 3, shifting left then
 * right those of factors 0 and 2, and vpmaddwd of each with the user's
 * codes in the same order leaves each item's two sums in its own 32-bit
 * lane.  Widening the bytes with vpmovsxbw instead took 1.7 times as long
 * on a Zen 3 (4.8 against 2.9 ns an item over 13,372 items in a loop
 * outside PostgreSQL: the shuffle unit was the bottleneck).
 */
__attribute__((target("avx2")))
static void
compact_score_avx2(const CompactQuery *q, int32 from, int32 to, float *scores,
				   float *span_max, double *span_sum)
{
	const CompactFactors *cf = q->cf;
	int			groups = cf->stride / 4;
	__m256		x_step = _mm256_set1_ps(q->x_step);
	__m256d		lanes_low = _mm256_setzero_pd();
	__m256d		lanes_high = _mm256_setzero_pd();
	__m256		best = _mm256_set1_ps(-INFINITY);
	bool		stream = compact_streams(cf, scores, 32);
	int16		even[COMPACT_MAX_GROUPS][16];	/* group g's codes of factors 0 and 2, x 8 */
	int16		odd[COMPACT_MAX_GROUPS][16];	/* of factors 1 and 3 */

	for (int g = 0; g < groups; g++)
		for (int j = 0; j < 16; j++)
		{
			even[g][j] = q->x_codes[4 * g + 2 * (j % 2)];
			odd[g][j] = q->x_codes[4 * g + 2 * (j % 2) + 1];
		}
	for (int32 first = from; first < to; first += COMPACT_BLOCK)
	{
		const int8 *c = cf->codes + (Size) first * cf->stride;
		__m256i		acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
		int			left = to - first;

		for (int g = 0; g < groups; g++)
		{
			const int8 *group = c + g * 4 * COMPACT_BLOCK;
			__m256i		x_even = _mm256_loadu_si256((const __m256i *) even[g]);
			__m256i		x_odd = _mm256_loadu_si256((const __m256i *) odd[g]);

			/* a group is one 64-byte line: ask for the one 8 kB on */
			_mm_prefetch((const char *) group + COMPACT_PREFETCH_BYTES, _MM_HINT_T0);
			for (int h = 0; h < 2; h++)
			{
				__m256i		codes = _mm256_load_si256((const __m256i *) (group + 32 * h));
				__m256i		odd_codes = _mm256_srai_epi16(codes, 8);
				__m256i		even_codes = _mm256_srai_epi16(_mm256_slli_epi16(codes, 8), 8);

				acc[h] = _mm256_add_epi32(acc[h], _mm256_add_epi32(_mm256_madd_epi16(even_codes, x_even),
																	_mm256_madd_epi16(odd_codes, x_odd)));
			}
		}

		for (int h = 0; h < 2; h++)
		{
			/* items 8h..8h+7, one per lane */
			__m256i		dot = acc[h];
			int32		base = first + 8 * h;
			__m256		logit = _mm256_mul_ps(_mm256_loadu_ps(cf->scale + base),
											  _mm256_mul_ps(x_step, _mm256_cvtepi32_ps(dot)));

			if (left >= 8 * (h + 1))
			{
				if (stream)
					_mm256_stream_ps(scores + (base - from), logit);
				else
					_mm256_storeu_ps(scores + (base - from), logit);
				best = _mm256_max_ps(best, logit);
			}
			else
			{
				float		values[8] = {0};
				float		lowest[8];

				/* the items past to: 0 to the sums, -Infinity to the maximum */
				_mm256_storeu_ps(values, logit);
				for (int j = 0; j < 8; j++)
				{
					lowest[j] = j < left - 8 * h ? values[j] : -INFINITY;
					values[j] = j < left - 8 * h ? values[j] : 0.0f;
				}
				for (int j = 0; j < left - 8 * h; j++)
					scores[base - from + j] = values[j];
				logit = _mm256_loadu_ps(values);
				best = _mm256_max_ps(best, _mm256_loadu_ps(lowest));
			}
			/* items 8h..8h+7 into lanes 0-7 (see compact_span_ends) */
			lanes_low = _mm256_add_pd(lanes_low, _mm256_cvtps_pd(_mm256_castps256_ps128(logit)));
			lanes_high = _mm256_add_pd(lanes_high, _mm256_cvtps_pd(_mm256_extractf128_ps(logit, 1)));
		}
		if (compact_span_ends(from, to, first))
		{
			double		l[8];
			__m128		half = _mm_max_ps(_mm256_castps256_ps128(best), _mm256_extractf128_ps(best, 1));

			half = _mm_max_ps(half, _mm_movehl_ps(half, half));
			half = _mm_max_ss(half, _mm_shuffle_ps(half, half, 1));
			_mm256_storeu_pd(l, lanes_low);
			_mm256_storeu_pd(l + 4, lanes_high);
			span_max[(first - from) / COMPACT_SPAN] = _mm_cvtss_f32(half);
			span_sum[(first - from) / COMPACT_SPAN] = compact_lanes_sum(l);
			lanes_low = lanes_high = _mm256_setzero_pd();
			best = _mm256_set1_ps(-INFINITY);
		}
	}
	if (stream)
		_mm_sfence();
}
#endif

/*
 * Code the user vector x for scoring against cf, and return the query that
 * CompactScoreItems and CompactTopK take.  scratch (CompactScratchBytes,
 * aligned for a double) is the caller's, in use until the request is
 * done: it holds which items are exact (a bit each), their spans'
 * maxima and sums, and room for exploration's sums per KERNEL_BLOCK
 * (ExplorationSoftmax).
 *
 * x is coded in 16 bits: x_f is x_step m_f plus at most half a step, with
 * |m_f| <= 127 x 256, so that VNNI can take m_f as two bytes.  Coded in 8
 * bits, its error would shift every item's logit alike, and the softmax
 * denominator with them.
 */
CompactQuery *
CompactBegin(const CompactFactors *cf, const float *factors, const float *x, void *scratch)
{
	CompactQuery *q = palloc0(sizeof(CompactQuery));
	float		largest = 0.0f;
	float		coded_l1 = 0.0f;

	if (cf->k > COMPACT_MAX_FACTORS)
		elog(ERROR, "compact scoring takes at most %d factors, not %d", COMPACT_MAX_FACTORS, cf->k);
	q->cf = cf;
	q->factors = factors;
	q->x = palloc(sizeof(float) * cf->k);
	memcpy(q->x, x, sizeof(float) * cf->k);
	q->x_codes = palloc0(sizeof(int16) * cf->stride);	/* padding: code 0 */
	for (int f = 0; f < cf->k; f++)
		largest = Max(largest, fabsf(x[f]));
	q->x_step = largest >= COMPACT_X_TINY ? largest / COMPACT_X_MAX_CODE : 0.0f;
	for (int f = 0; f < cf->k && q->x_step > 0.0f; f++)
	{
		int			m = (int) rintf(x[f] / q->x_step);

		q->x_codes[f] = (int16) Max(-COMPACT_X_MAX_CODE, Min(COMPACT_X_MAX_CODE, m));
		coded_l1 += fabsf(q->x_step * (float) q->x_codes[f]);
	}
	/* each x_f is within half a step of its code (or, coded as zero, within |x_f|) */
	q->bound_l1 = (q->x_step > 0.0f ? q->x_step / 2.0f : largest) + COMPACT_ROUNDING * largest;
	q->bound_scale = coded_l1 * (1.0f + 1e-5f) / 2.0f + COMPACT_ROUNDING * largest;
	q->n_spans = (cf->n_items + COMPACT_SPAN - 1) / COMPACT_SPAN;
	q->exact_bits = (uint64 *) scratch;
	memset(q->exact_bits, 0, sizeof(uint64) * compact_exact_words(cf->n_items));
	q->span_max = (float *) (q->exact_bits + compact_exact_words(cf->n_items));
	q->span_sum = (double *) TYPEALIGN(sizeof(double), q->span_max + q->n_spans);
	q->block_sums = q->span_sum + q->n_spans;
	return q;
}

/*
 * The compact logits of items from to to (from a multiple of
 * COMPACT_SPAN) into scores[i - from]; the largest and the sum of each span of COMPACT_SPAN
 * items into span_max and span_sum[(i - from) / COMPACT_SPAN].  Of q it
 * reads only cf, x_codes and x_step, so that a scoring helper
 * (scoring_helper.c) can score part of a catalogue from a query it was
 * sent.  CompactFinishScoring follows once every item is scored.
 */
void
CompactScoreItems(const CompactQuery *q, int32 from, int32 to, float *scores,
				  float *span_max, double *span_sum)
{
	Assert(from % COMPACT_SPAN == 0 && from <= to && to <= q->cf->n_items);
#ifdef COMPACT_X86
	if (personalize_compact_kernel == COMPACT_KERNEL_AUTO &&
		__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw"))
	{
		compact_score_vnni(q, from, to, scores, span_max, span_sum);
		return;
	}
	if (personalize_compact_kernel != COMPACT_KERNEL_PORTABLE && __builtin_cpu_supports("avx2"))
	{
		compact_score_avx2(q, from, to, scores, span_max, span_sum);
		return;
	}
#endif
	compact_score_plain(q, from, to, scores, span_max, span_sum);
}

/*
 * Bytes of the scratch space CompactBegin takes for n_items: the exact
 * items' bits, span maxima, span sums and exploration's block sums (a
 * double's alignment at the start suffices).
 */
Size
CompactScratchBytes(int32 n_items)
{
	Size		n_spans = (Size) (n_items + COMPACT_SPAN - 1) / COMPACT_SPAN;
	Size		n_blocks = (Size) (n_items + KERNEL_BLOCK - 1) / KERNEL_BLOCK;

	return sizeof(uint64) * compact_exact_words(n_items) +
		TYPEALIGN(sizeof(double), sizeof(float) * n_spans) +
		sizeof(double) * (n_spans + Max(n_blocks, 1));
}

/*
 * Every item scored: the sum of the logits, spans added in order (the
 * same sum however the catalogue was split), for the mean exploration
 * needs (ExplorationSoftmax), which would take another pass.
 */
void
CompactFinishScoring(CompactQuery *q)
{
	double		sum = 0.0;

	for (int32 span = 0; span < q->n_spans; span++)
		sum += q->span_sum[span];
	q->logit_sum = sum;
	q->n_logits = q->cf->n_items;
}

/*
 * Exclude the n listed items (the user's history; an item may repeat):
 * -Infinity in scores, out of the logits' sum and count, and the bounds of
 * the spans whose best they were made exact again: a user's history holds
 * the items the model scores highest, whose spans SpanMax would otherwise
 * read one by one.  (A span whose best stays keeps its bound.)
 */
void
CompactExclude(CompactQuery *q, float *scores, int n, const int32 *items)
{
	for (int j = 0; j < n; j++)
	{
		int32		first = items[j] / COMPACT_SPAN * COMPACT_SPAN;
		float		s = scores[items[j]];

		if (!isfinite(s))
			continue;			/* a repeat */
		q->logit_sum -= s;
		q->n_logits--;
		q->max_known = false;
		scores[items[j]] = -INFINITY;
		if (!(s < q->span_max[items[j] / COMPACT_SPAN]))
			SpansRefresh(scores, first, Min(q->cf->n_items, first + COMPACT_SPAN), q->span_max);
	}
}

/* Has item i's score been made exact? */
static inline bool
compact_is_exact(const CompactQuery *q, int32 i)
{
	return (q->exact_bits[i / 64] >> (i % 64)) & 1;
}

/*
 * Item i's score given its logit, with the bonus the request added to
 * item i's logit (see CompactQuery), computed as exploration.c computes it
 * (but for a fused multiply-add the bonus pass's vector loop may use: the
 * last bit).
 */
static float
compact_added(const CompactQuery *q, int32 i, float logit)
{
	float		damping;

	if (q->bonus_popularity == NULL)
		return logit;
	damping = ExplorationDamping(q->bonus_popularity[i]);
	if (q->bonus_ages == NULL)
		return logit + (float) q->bonus_scale * damping;
	if (!ExplorationIsYoung(q->bonus_ages[i], q->bonus_cut_off))
		return logit;
	return ExplorationAddBonus(logit, q->bonus_scale, damping);
}

/* How far item i's score s may be from its exact value. */
static inline float
compact_bound(const CompactQuery *q, int32 i, float s)
{
	if (compact_is_exact(q, i))
		return 0.0f;
	/* the last term: rounding of whatever the request added to the logit */
	return q->bound_l1 * q->cf->l1[i] + q->bound_scale * q->cf->scale[i] + 1e-6f * fabsf(s);
}

/* Replace item i's compact logit in scores by its exact one. */
static void
compact_make_exact(CompactQuery *q, float *scores, int32 i)
{
	float		exact = KernelDot(q->x, q->factors + (Size) i * q->cf->k, q->cf->k);

	Assert(isfinite(scores[i]) && !compact_is_exact(q, i));
	/* before a bonus the score is the compact logit (after one, the sum is NaN) */
	if (isfinite(q->logit_sum))
		q->logit_sum += (double) (exact - scores[i]);
	scores[i] = compact_added(q, i, exact);
	q->exact_bits[i / 64] |= UINT64CONST(1) << (i % 64);
	/* the span's bound stays at least its scores */
	if (!(q->span_max[i / COMPACT_SPAN] >= scores[i]))
		q->span_max[i / COMPACT_SPAN] = scores[i];
	if (q->n_exact == q->exact_capacity)
	{
		q->exact_capacity = Max(64, 2 * q->exact_capacity);
		q->exact_items = q->n_exact == 0 ? palloc(sizeof(int32) * q->exact_capacity) :
			repalloc_huge(q->exact_items, sizeof(int32) * q->exact_capacity);
	}
	q->exact_items[q->n_exact++] = i;
}

/*
 * The depth best items of scores in top, best first, as TopK would give
 * them had every score been exact (see the file header); returns how many
 * (items at -Infinity stay out).  The scores made exact change the
 * softmax denominator relative to max_score: the change is added to
 * *denominator.
 */
int
CompactTopK(CompactQuery *q, float *scores, int depth, int32 *top,
			float max_score, double *denominator)
{
	int32		n = q->cf->n_items;
	float		floor_score = INFINITY;
	float		widest = q->bound_l1 * q->cf->max_l1 + q->bound_scale * q->cf->max_scale;
	float		skip_below;
	double		change = 0.0;
	int32		candidates_capacity = 256;
	int32	   *candidates = palloc(sizeof(int32) * candidates_capacity);
	int32		n_candidates = 0;
	int			n_top;

	q->max_known = false;
	if (depth == 1)
	{
		/* the best exact score is at least the best compact one less the widest bound */
		float		best = SpanMax(scores, n, q->span_max);

		if (!isfinite(best))
			return 0;
		floor_score = best - widest - 1e-6f * fabsf(best);
	}
	else
	{
		n_top = TopKSpans(scores, n, q->span_max, Min(depth, n), top);
		if (n_top == 0)
			return 0;
		/* the depth-th best exact score is at least the worst of these lower bounds */
		for (int r = 0; r < n_top; r++)
			floor_score = Min(floor_score, scores[top[r]] - compact_bound(q, top[r], scores[top[r]]));
	}

	/* skip spans that even the widest bound cannot lift to the floor */
	skip_below = floor_score - widest - 1e-6f * fabsf(floor_score) - 1e-6f * widest;
	for (int32 span = 0; span < q->n_spans; span++)
	{
		int32		first = span * COMPACT_SPAN;
		uint64		near;

		if ((span & 0x3FF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!(q->span_max[span] >= skip_below))
			continue;
		/* the span's items that the widest bound could lift to the floor */
		for (near = KernelAtLeastMask(scores + first, Min(n, first + COMPACT_SPAN) - first, skip_below);
			 near != 0; near &= near - 1)
		{
			int32		item = first + pg_rightmost_one_pos64(near);
			float		s = scores[item];

			if (compact_is_exact(q, item) || !isfinite(s) || s + compact_bound(q, item, s) < floor_score)
				continue;
			if (n_candidates == candidates_capacity)
			{
				candidates_capacity *= 2;
				candidates = repalloc_huge(candidates, sizeof(int32) * candidates_capacity);
			}
			candidates[n_candidates++] = item;
		}
	}

	/*
	 * Re-score them, each one's factor row asked for a few items ahead: the
	 * rows are scattered, and a catalogue of near ties re-scores thousands
	 * (a million items trained one sweep: 3,300 a request).
	 */
	for (int32 c = 0; c < n_candidates; c++)
	{
		int32		item = candidates[c];
		float		s = scores[item];

		if (c + COMPACT_RESCORE_AHEAD < n_candidates)
			KernelPrefetch(q->factors + (Size) candidates[c + COMPACT_RESCORE_AHEAD] * q->cf->k,
						   sizeof(float) * q->cf->k);
		if ((c & 0xFFF) == 0xFFF)
			CHECK_FOR_INTERRUPTS();
		compact_make_exact(q, scores, item);
		change += exp((double) scores[item] - max_score) - exp((double) s - max_score);
	}
	pfree(candidates);
	*denominator += change;

	/*
	 * Every item not exact now is below the floor, under the depth-th best
	 * exact score: the best depth are among the exact items still ranked,
	 * and the best of them is the largest score of all.
	 */
	n_top = TopKOf(scores, q->exact_items, q->n_exact, Min(depth, n), top);
	q->max_known = n_top > 0;
	q->max_score = n_top > 0 ? scores[top[0]] : -INFINITY;
	return n_top;
}
