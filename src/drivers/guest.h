/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reaching the guests from the host: banger's SSH key pair
 * (STATUS_DIR/ssh/), the hosts-file fragment and the marked block of the
 * system hosts file, and the per-VM statistics read from /proc and the disk
 * files (struct stats_ops, so observe and cli never read /proc themselves).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

/* STATUS_DIR/ssh, its key and its known_hosts file.  Caller frees. */
char *ssh_dir(const char *status_dir);
char *ssh_key_path(const char *status_dir);
char *ssh_known_hosts_path(const char *status_dir);

/*
 * Make sure banger's ed25519 key pair exists: STATUS_DIR/ssh/ (0700) holds
 * id_ed25519 (0600) and id_ed25519.pub, made on first need by exec'ing
 * `ssh-keygen -t ed25519 -N '' -f TMP -C banger` (posix_spawn, argv, the
 * keygen program from $BANGER_SSH_KEYGEN or "ssh-keygen" on PATH) into
 * temporary names renamed into place, so a cut-short run never leaves half a
 * pair.  *ret_pubkey: the public key line without its newline (caller frees).
 * -ENOENT when ssh-keygen cannot be run.
 */
int ssh_key_ensure(const char *status_dir, char **ret_pubkey, struct error **err);

/* The public key line if the pair exists; -ENOENT when it does not. */
int ssh_pubkey_read(const char *status_dir, char **ret_pubkey, struct error **err);

/* Whether ssh_key_ensure could make a pair: the keygen program runs from
 * $BANGER_SSH_KEYGEN or PATH. */
bool ssh_keygen_available(void);

/*
 * Drop the lines of STATUS_DIR/ssh/known_hosts whose host field (comma-
 * separated names) holds name: the guest behind it was made anew (a new
 * root disk makes new host keys), so the next connection records its key
 * again.  A missing file is success.  Rewritten atomically (0600) only
 * when a line goes.
 */
int ssh_known_hosts_forget(const char *status_dir, const char *name, struct error **err);

/*
 * Install body (hosts(5) lines) as the fragment STATUS_DIR/hosts and, when
 * hosts_file is not NULL, as the "# BEGIN banger" ... "# END banger" block
 * of hosts_file (the rest of it untouched).  Each file is written (atomically,
 * 0644) only when its content would change; *ret_changed says whether any
 * was.  A hosts_file that is a mount point of its own (a container's
 * bind-mounted /etc/hosts, or one made writable by systemd's ReadWritePaths=
 * in a read-only /etc: the rename fails with EBUSY or EROFS) is rewritten
 * in place instead.  A hosts_file whose block is damaged (begin without
 * end) is left alone: -EBADMSG.
 */
int hosts_sync(const char *status_dir, const char *hosts_file, const char *body,
	       bool *ret_changed, struct error **err);

/*
 * dnsmasq: the drop-in CONF_DIR/banger.conf says "hostsdir=CONF_DIR/
 * banger-hosts.d", where banger keeps one hosts file, "hosts".  dnsmasq
 * reads a conf dir only when it starts, but watches a hostsdir with inotify
 * and rereads a changed file (dropping the names it had read from it), so
 * once dnsmasq was restarted with the drop-in, each reconcile's names reach
 * it without a signal.  A conf dir skips sub-folders and dnsmasq skips
 * files starting with '.', so the hosts file is staged as a dot file and
 * renamed into place.
 */
#define DNSMASQ_DROPIN "banger.conf"
#define DNSMASQ_HOSTS_DIR "banger-hosts.d"
#define DNSMASQ_HOSTS_FILE "hosts"
/* The first line of every file banger writes for dnsmasq: its mark. */
#define DNSMASQ_MARK "# Written by banger"

/*
 * Keep banger's dnsmasq files in conf_dir (an existing directory) in step
 * with body (hosts(5) lines).  A non-empty body: the hosts file, then the
 * drop-in, each written (atomically, 0644) only when its content would
 * change.  An empty body (no VM has an address): the drop-in, the hosts file
 * and the folder (when empty) are removed, so nothing of banger stays in
 * dnsmasq's configuration.  A drop-in or hosts file that exists without
 * DNSMASQ_MARK as its first line was not written by banger: it is left
 * alone, -EEXIST.  *ret_changed: some file changed; *ret_new_dropin: the
 * drop-in was written where there was none (dnsmasq needs a restart to read
 * it).  -ENOENT when conf_dir does not exist.
 */
int dnsmasq_sync(const char *conf_dir, const char *body, bool *ret_changed,
		 bool *ret_new_dropin, struct error **err);

/* One reading of a hypervisor process. */
struct proc_sample {
	uint64_t cpu_ticks;	/* utime + stime, in clock ticks */
	uint64_t rss_bytes;	/* VmRSS */
	uint64_t start_ticks;	/* start time after boot, to tell a reused pid */
};

struct stats_ops {
	/* utime+stime and start time of /proc/PID/stat, VmRSS of /proc/PID/status.
	 * -ESRCH when the process is gone. */
	int (*proc_sample)(void *userdata, pid_t pid, struct proc_sample *ret, struct error **err);
	/* Bytes allocated to a file (st_blocks * 512); -ENOENT when missing. */
	int (*file_usage)(void *userdata, const char *path, uint64_t *ret, struct error **err);
	/* ESTABLISHED TCP connections from this host to ip:port (host order)
	 * (/proc/net/tcp of the caller's network namespace). */
	int (*tcp_established)(void *userdata, uint32_t ip, uint16_t port, unsigned *ret,
			       struct error **err);
	/* Clock ticks per second (sysconf(_SC_CLK_TCK)). */
	long (*ticks_per_second)(void *userdata);
	void *userdata;
};

/* The real backend over /proc and stat(2). */
extern const struct stats_ops stats_ops_real;

/*
 * Count the lines of a /proc/net/tcp text whose remote address is ip:port
 * (host order) and whose state is 01 (ESTABLISHED).  Pure, for tests.
 */
unsigned stats_count_established(const char *proc_net_tcp, uint32_t ip, uint16_t port);
/* Parse the text of /proc/PID/stat: fields 14, 15 (utime, stime) and 22
 * (starttime), after the parenthesised command.  -EBADMSG when malformed. */
int stats_parse_stat(const char *text, uint64_t *ret_cpu_ticks, uint64_t *ret_start_ticks);
