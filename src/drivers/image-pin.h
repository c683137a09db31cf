/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Image pins: the sha256 of an image's kernel, rootfs and initrd, checked
 * before first use.  Digests are cached in STATUS_DIR/images/pins.yaml keyed
 * by (device, inode, size, mtime), so an unchanged file is hashed once.
 */
#pragma once

#include <stddef.h>

#include "spec/spec.h"
#include "util/error.h"
#include "util/sha256.h"

#define IMAGE_PINS_FILE "images/pins.yaml"

struct image_pins;

/*
 * Open the cache of status_dir (absolute); a missing or unreadable cache file
 * starts empty (a cache is never a reason to fail).  Caller frees *ret.
 */
int image_pins_open(const char *status_dir, struct image_pins **ret, struct error **err);
struct image_pins *image_pins_free(struct image_pins *p);

static inline void
image_pins_freep(struct image_pins **p)
{
	(void)image_pins_free(*p);
}

/* The sha256 of path: from the cache when its identity is unchanged, else hashed. */
int image_pins_digest(struct image_pins *p, const char *path, char out[SHA256_HEX_SIZE],
		      struct error **err);

/*
 * Check path against expected (64 lower-case hex).  -EBADMSG on a mismatch,
 * with an error naming the file and both digests.
 */
int image_pins_verify(struct image_pins *p, const char *path, const char *expected,
		      struct error **err);

/*
 * Check a declared image before first use: kernel, rootfs and initrd (when
 * set) must be readable regular files, and each pinned one must match its
 * sha256.  The error names the image and the file; a mismatch is -EBADMSG.
 */
int image_pins_check_image(struct image_pins *p, const struct image_spec *img,
			   struct error **err);

/* Write the cache atomically when it changed since open. */
int image_pins_save(struct image_pins *p, struct error **err);

/* How many files were actually hashed (cache misses) since open. */
unsigned image_pins_hashed(const struct image_pins *p);
