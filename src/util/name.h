/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Names banger accepts and derives: DNS labels, VM ids, host object names.
 * Leaf module.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? */
bool name_is_dns_label(const char *s);

/* A VM id is 32 lower-case hex digits (128 random bits). */
#define VM_ID_LEN 32
bool name_is_vm_id(const char *s);

/* Tap "bgr-" + first 8 hex of the id; buffer of at least 16 bytes (IFNAMSIZ). */
#define TAP_PREFIX "bgr-"
void name_tap_from_id(const char *id, char out[16]);
/* dm target "banger-" + first 12 hex of the id; buffer of at least 20 bytes. */
#define DM_PREFIX "banger-"
void name_dm_from_id(const char *id, char out[20]);

/* IPv4 helpers on host-order addresses. */
int ipv4_parse(const char *s, uint32_t *ret);
int ipv4_cidr_parse(const char *s, uint32_t *ret_addr, unsigned *ret_prefix);
/* "a.b.c.d" into out (at least 16 bytes). */
void ipv4_format(uint32_t a, char out[16]);
/* The MAC of a guest without a declared one: 06:00 + the IPv4 octets. */
void mac_from_ip(uint32_t ip, uint8_t ret[6]);
/* "06:00:0a:4d:00:02" into out (18 bytes). */
void mac_format(const uint8_t mac[6], char out[18]);

/* The Levenshtein distance of a and b (64 when either is longer than that):
 * how far a typo is from a name. */
unsigned edit_distance(const char *a, const char *b);
