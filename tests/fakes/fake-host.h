/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An in-memory host implementing every ops table (net, nat, disk, hv,
 * proc).  It keeps the host's objects, records every call in a transcript,
 * fails the Nth call (or the Nth call of one op) with a chosen errno, and
 * "crashes" after the Nth side effect: that op takes effect, then it and
 * every later call return FAKE_CRASH.  Its state can be saved to and loaded
 * from a text file so the CLI can run twice on the same fake host.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "drivers/host-ops.h"

/* What every op returns once the fake host has crashed. */
#define FAKE_CRASH (-ENOTRECOVERABLE)

enum fake_obj_kind {
	FAKE_LINK,	/* name, alias, master (bridge), up */
	FAKE_BRIDGE,	/* name, addr/prefix, up */
	FAKE_RULE,	/* nat rule */
	FAKE_DM,	/* name */
	FAKE_LOOP,	/* name, backing */
	FAKE_DIR,	/* name: directory path */
	FAKE_FILE,	/* name: path, size; note: what it is */
	FAKE_PROC,	/* pid, name: api socket, booted, note: config */
	_FAKE_OBJ_KIND_MAX,
};

struct fake_obj {
	enum fake_obj_kind kind;
	char *name;
	char *alias;
	char *master;
	char *backing;
	char *note;
	char *chain;
	char *vm_id;
	char *tap;
	char *uplink;
	enum nat_rule_kind rule_kind;
	uint64_t handle;
	uint32_t addr;
	uint8_t mac[6];		/* a guest's (hv.spawn), in memory only */
	unsigned prefix;
	uint64_t size;
	pid_t pid;
	bool up;
	bool booted;
};

struct fake_host {
	struct fake_obj *objs;
	size_t n_objs;
	bool nat_table;
	bool forwarding;
	uint64_t next_handle;
	pid_t next_pid;
	unsigned next_loop;
	unsigned next_id;
	uint64_t clock_ms;
	enum disk_strategy strategy;	/* what strategy_probe resolves AUTO to */
	char *uplink;			/* what uplink_resolve resolves "auto" to */

	char **transcript;		/* strv: one line per call */
	unsigned calls;			/* every op call */
	unsigned effects;		/* calls that changed the host (and checkpoints) */
	unsigned fail_call;		/* fail this call number (1-based), 0: never */
	const char *fail_op;		/* or the fail_nth call of this op */
	unsigned fail_nth, fail_op_seen;
	int fail_errno;
	unsigned crash_after;		/* crash right after this effect, 0: never */
	bool guest_dies;		/* every guest dies at boot (a kernel panic) */
	/* Guests started while another ran with the same address or MAC:
	 * never right, whatever the run went through. */
	unsigned clashes;
	/* The names of the files, sorted, for file_present: made at its first
	 * look since the last op (every op may change the objects). */
	char **file_index;
	size_t n_file_index;
	bool file_index_ok;
	bool crashed;
	/* Changed since fake_host_load_file (or never loaded): what
	 * fake_host_save_file writes; an unchanged fake is not formatted. */
	bool dirty;

	struct net_ops net;
	struct nat_ops nat;
	struct disk_ops disk;
	struct hv_ops hv;
	struct proc_ops proc;
	struct host_ops ops;
};

struct fake_host *fake_host_new(void);
struct fake_host *fake_host_free(struct fake_host *h);
static inline void
fake_host_freep(struct fake_host **h)
{
	(void)fake_host_free(*h);
}

/* Count a side effect that is not an op (a status write): returns FAKE_CRASH
 * when the host crashes here, 0 otherwise.  Signature of an apply hook. */
int fake_host_checkpoint(void *userdata);
/* True once crashed (an apply "stop now" hook). */
bool fake_host_crashed(void *userdata);

/* Reset the counters, the failure and crash settings and the transcript,
 * keeping the objects: "a new run on the same host". */
void fake_host_new_run(struct fake_host *h);

/* Test helpers that change the host behind banger's back (drift). */
int fake_host_kill(struct fake_host *h, pid_t pid);
int fake_host_remove(struct fake_host *h, enum fake_obj_kind kind, const char *name);
void fake_host_remove_index(struct fake_host *h, size_t i);
struct fake_obj *fake_host_find(struct fake_host *h, enum fake_obj_kind kind, const char *name);
size_t fake_host_count(const struct fake_host *h, enum fake_obj_kind kind);
void fake_host_add(struct fake_host *h, const struct fake_obj *o);

/* Text form: one object per line, tab-separated. */
char *fake_host_save(const struct fake_host *h);
int fake_host_load(const char *text, struct fake_host **ret);
int fake_host_save_file(const struct fake_host *h, const char *path);
/* A missing file is an empty host. */
int fake_host_load_file(const char *path, struct fake_host **ret);
/* The transcript as one string, one call per line.  Caller frees. */
char *fake_host_transcript(const struct fake_host *h);
