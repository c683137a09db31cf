/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Names banger accepts and derives.  Leaf module.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "name.h"
#include "util/alloc.h"
#include "util/cleanup.h"

bool
name_is_dns_label(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '-' && i > 0 && i < n - 1)
			continue;
		return false;
	}
	return true;
}

bool
name_is_vm_id(const char *s)
{
	if (!s || strlen(s) != VM_ID_LEN)
		return false;
	for (size_t i = 0; i < VM_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

void
name_tap_from_id(const char *id, char out[16])
{
	snprintf(out, 16, TAP_PREFIX "%.8s", id);
}

void
name_dm_from_id(const char *id, char out[20])
{
	snprintf(out, 20, DM_PREFIX "%.12s", id);
}

int
ipv4_parse(const char *s, uint32_t *ret)
{
	uint32_t a = 0;
	int parts = 0;

	if (!s)
		return -EINVAL;
	while (parts < 4) {
		unsigned v = 0;
		int digits = 0;

		while (*s >= '0' && *s <= '9') {
			if (digits == 1 && v == 0)
				return -EINVAL; /* no leading zeros: "010" is ambiguous */
			v = v * 10 + (unsigned)(*s - '0');
			if (v > 255)
				return -EINVAL;
			s++, digits++;
		}
		if (digits == 0)
			return -EINVAL;
		a = a << 8 | v;
		parts++;
		if (parts < 4) {
			if (*s != '.')
				return -EINVAL;
			s++;
		}
	}
	if (*s)
		return -EINVAL;
	*ret = a;
	return 0;
}

int
ipv4_cidr_parse(const char *s, uint32_t *ret_addr, unsigned *ret_prefix)
{
	char buf[32];
	const char *slash;
	unsigned prefix = 0;
	uint32_t a;
	int r;

	slash = s ? strchr(s, '/') : NULL;
	if (!slash || (size_t)(slash - s) >= sizeof(buf) || !slash[1])
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	r = ipv4_parse(buf, &a);
	if (r < 0)
		return r;
	for (const char *p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9' || (p > slash + 1 && prefix == 0))
			return -EINVAL;
		prefix = prefix * 10 + (unsigned)(*p - '0');
		if (prefix > 32)
			return -EINVAL;
	}
	*ret_addr = a;
	*ret_prefix = prefix;
	return 0;
}

void
ipv4_format(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

void
mac_format(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

void
mac_from_ip(uint32_t ip, uint8_t ret[6])
{
	ret[0] = 0x06;
	ret[1] = 0x00;
	ret[2] = (uint8_t)(ip >> 24);
	ret[3] = (uint8_t)(ip >> 16);
	ret[4] = (uint8_t)(ip >> 8);
	ret[5] = (uint8_t)ip;
}

/* Levenshtein distance of a and b; 64 when either is longer than 64. */
unsigned
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	_cleanup_free_ unsigned *row = NULL;

	if (la > 64 || lb > 64)
		return 64;
	row = xmalloc((lb + 1) * sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j], best;

			best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}
