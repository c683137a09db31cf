/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SHA-256 (FIPS 180-4).  Leaf module.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define HAVE_SHA256_X86 0
#endif

#include "cleanup.h"
#include "sha256.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static inline uint32_t
ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void
blocks_portable(uint32_t state[8], const uint8_t *p, size_t n)
{
	for (; n > 0; n--, p += 64) {
		uint32_t w[64], a, b, d, e, f, g, h, cc;

		for (int i = 0; i < 16; i++)
			w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
			       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
		for (int i = 16; i < 64; i++) {
			uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
			uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

			w[i] = w[i - 16] + s0 + w[i - 7] + s1;
		}
		a = state[0], b = state[1], cc = state[2], d = state[3];
		e = state[4], f = state[5], g = state[6], h = state[7];
		for (int i = 0; i < 64; i++) {
			uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
				      ((e & f) ^ (~e & g)) + K[i] + w[i];
			uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
				      ((a & b) ^ (a & cc) ^ (b & cc));

			h = g, g = f, f = e, e = d + t1;
			d = cc, cc = b, b = a, a = t1 + t2;
		}
		state[0] += a, state[1] += b, state[2] += cc, state[3] += d;
		state[4] += e, state[5] += f, state[6] += g, state[7] += h;
	}
}

#if HAVE_SHA256_X86
/*
 * The x86 SHA extensions (sha256rnds2, sha256msg1/2), where the CPU has them:
 * about ten times fewer instructions per block, which the generation hash of
 * every declared VM on every run and the pins of large images both feel.
 * The state is kept as the instructions want it, ABEF and CDGH.
 */
__attribute__((target("sha,sse4.1"))) static void
blocks_x86(uint32_t state[8], const uint8_t *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i t, abef, cdgh;

	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xB1);
	cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B);
	abef = _mm_alignr_epi8(t, cdgh, 8);
	cdgh = _mm_blend_epi16(cdgh, t, 0xF0);
	for (; n > 0; n--, p += 64) {
		const __m128i abef0 = abef, cdgh0 = cdgh;
		__m128i m[4];

		for (int j = 0; j < 16; j++) {
			__m128i wk;

			if (j < 4) {
				m[j] = _mm_shuffle_epi8(
					_mm_loadu_si128((const __m128i *)(p + 16 * j)), bswap);
			} else {
				/* W[t-16] + s0(W[t-15]), + W[t-7], + s1(W[t-2]) */
				__m128i x = _mm_sha256msg1_epu32(m[j & 3], m[(j + 1) & 3]);

				x = _mm_add_epi32(x, _mm_alignr_epi8(m[(j + 3) & 3],
								     m[(j + 2) & 3], 4));
				m[j & 3] = _mm_sha256msg2_epu32(x, m[(j + 3) & 3]);
			}
			wk = _mm_add_epi32(m[j & 3], _mm_loadu_si128((const __m128i *)&K[4 * j]));
			/* Two rounds each; after two rounds the old ABEF is the new
			 * CDGH, so the two registers trade roles and are back in
			 * place after the second call. */
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			wk = _mm_shuffle_epi32(wk, 0x0E);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}
	t = _mm_shuffle_epi32(abef, 0x1B);
	cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
	_mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(t, cdgh, 0xF0));
	_mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(cdgh, t, 8));
}

static bool
cpu_has_sha(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (b & bit_SHA) != 0;
}
#endif

/* 0: not decided yet, 1: portable, 2: x86 SHA extensions. */
static int impl;

static void
blocks(uint32_t state[8], const uint8_t *p, size_t n)
{
	int i = __atomic_load_n(&impl, __ATOMIC_RELAXED);

	if (i == 0) {
		i = 1;
#if HAVE_SHA256_X86
		if (cpu_has_sha())
			i = 2;
#endif
		__atomic_store_n(&impl, i, __ATOMIC_RELAXED);
	}
#if HAVE_SHA256_X86
	if (i == 2) {
		blocks_x86(state, p, n);
		return;
	}
#endif
	blocks_portable(state, p, n);
}

bool
sha256_hw_select(bool want)
{
	int i = 1;

#if HAVE_SHA256_X86
	if (want && cpu_has_sha())
		i = 2;
#else
	(void)want;
#endif
	__atomic_store_n(&impl, i, __ATOMIC_RELAXED);
	return i == 2;
}

void
sha256_init(struct sha256_ctx *c)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(c->h, iv, sizeof(iv));
	c->len = 0;
	c->fill = 0;
}

void
sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->len += len;
	if (c->fill) {
		size_t n = 64 - c->fill < len ? 64 - c->fill : len;

		memcpy(c->buf + c->fill, p, n);
		c->fill += n, p += n, len -= n;
		if (c->fill < 64)
			return;
		blocks(c->h, c->buf, 1);
		c->fill = 0;
	}
	if (len >= 64) {
		blocks(c->h, p, len / 64);
		p += len & ~(size_t)63;
		len &= 63;
	}
	memcpy(c->buf, p, len);
	c->fill = len;
}

void
sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE])
{
	uint64_t bits = c->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = c->fill < 56 ? 56 - c->fill : 120 - c->fill;

	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(c, pad, padlen + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(c->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)c->h[i];
	}
}

void
sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char out[SHA256_HEX_SIZE])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[64] = '\0';
}

void
sha256_hex_buf(const void *data, size_t len, char out[SHA256_HEX_SIZE])
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];

	sha256_init(&c);
	sha256_update(&c, data, len);
	sha256_final(&c, d);
	sha256_hex(d, out);
}

int
sha256_hex_file(const char *path, char out[SHA256_HEX_SIZE])
{
	_cleanup_close_ int fd = -EBADF;
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	static __thread uint8_t buf[1 << 16];

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	sha256_init(&c);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		sha256_update(&c, buf, (size_t)n);
	}
	sha256_final(&c, d);
	sha256_hex(d, out);
	return 0;
}
