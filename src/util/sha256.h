/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SHA-256 (FIPS 180-4): image pins and spec generations.  Leaf module.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE 65

struct sha256_ctx {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t fill;
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE]);
/* Lower-case hex of a digest into out (SHA256_HEX_SIZE bytes with the NUL). */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char out[SHA256_HEX_SIZE]);
/* One-shot hex digest of a buffer. */
void sha256_hex_buf(const void *data, size_t len, char out[SHA256_HEX_SIZE]);
/*
 * Use the CPU's SHA instructions when want and the CPU has them (the
 * default, decided on first use), else the portable code; returns whether
 * they are used.  For tests, which compare the two.
 */
bool sha256_hw_select(bool want);
/* Hex digest of a file's content; -errno on failure. */
int sha256_hex_file(const char *path, char out[SHA256_HEX_SIZE]);
