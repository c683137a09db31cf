/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger ssh NAME [-- CMD...]: exec ssh to a guest with banger's key, as
 * root, at the address its status file records, with banger's own
 * known_hosts (the guest's host key is recorded on first connect, then
 * enforced).  banger ssh-config [--write]: Host entries for every VM with
 * an address, printed or installed in a marked block of ~/.ssh/config.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/ssh.h"
#include "drivers/guest.h"
#include "observe/observe.h"
#include "source/source.h"
#include "spec/spec.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/markblock.h"
#include "util/name.h"
#include "util/strv.h"

#define SSH_CONFIG_MAX (4 * 1024 * 1024)

void
guest_entries_free(struct guest_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

int
guest_entries_read(const char *status_dir, struct guest_entry **ret, size_t *ret_n,
		   struct error **err)
{
	_cleanup_strv_free_ char **names = NULL;
	struct guest_entry *out = NULL;
	size_t n = 0;
	int r;

	r = status_list(status_dir, &names, err);
	if (r < 0)
		return r;
	for (size_t i = 0; names && names[i]; i++) {
		struct vm_status st = { 0 };
		struct error *e = NULL;
		struct guest_entry *g;

		/* An unreadable status file names no address: banger status
		 * reports it; the other VMs keep their names. */
		if (status_read(status_dir, names[i], &st, &e) < 0) {
			error_free(e);
			continue;
		}
		if (st.ip) {
			out = xappend(out, &n, sizeof(*out), (void **)&g);
			g->name = xstrdup(names[i]);
			g->ip = st.ip;
		}
		vm_status_done(&st);
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

/* One growing buffer: appending line by line to a copy was quadratic
 * (15 MB copied for 1,000 VMs' hosts lines on every run). */
char *
guest_hosts_format(const struct guest_entry *e, size_t n, const char *domain)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	for (size_t i = 0; i < n; i++) {
		char ip[16];

		ipv4_format(e[i].ip, ip);
		fprintf(f, "%s\t%s.%s\n", ip, e[i].name, domain);
	}
	if (fclose(f) != 0)
		abort();
	return buf;
}

bool
guest_ssh_config_path_ok(const char *path)
{
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		if (*p == '"' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* path as one ssh_config argument: in double quotes (it may hold spaces),
 * '%' doubled (IdentityFile and UserKnownHostsFile expand %-tokens). */
static char *
ssh_config_quote(const char *path)
{
	size_t n = strlen(path), k = 0;
	char *out = xmalloc(2 * n + 3);

	out[k++] = '"';
	for (const char *p = path; *p; p++) {
		if (*p == '%')
			out[k++] = '%';
		out[k++] = *p;
	}
	out[k++] = '"';
	out[k] = '\0';
	return out;
}

char *
guest_ssh_config_format(const struct guest_entry *e, size_t n, const char *domain,
			const char *key_path, const char *known_hosts)
{
	_cleanup_free_ char *key_q = ssh_config_quote(key_path), *kh_q = ssh_config_quote(known_hosts);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	for (size_t i = 0; i < n; i++) {
		char ip[16];

		ipv4_format(e[i].ip, ip);
		fprintf(f,
			"Host %s.%s\n"
			"\tHostName %s\n"
			"\tUser root\n"
			"\tIdentityFile %s\n"
			"\tIdentitiesOnly yes\n"
			"\tUserKnownHostsFile %s\n"
			"\tStrictHostKeyChecking accept-new\n"
			"\tHashKnownHosts no\n"
			"\tHostKeyAlias %s.%s\n",
			e[i].name, domain, ip, key_q, kh_q, e[i].name, domain);
	}
	if (fclose(f) != 0)
		abort();
	return buf;
}

const char *
guest_hosts_file(const char *status_dir)
{
	const char *s = getenv("BANGER_HOSTS_FILE");

	if (s)
		return *s ? s : NULL;
	return strcmp(status_dir, DEFAULT_STATUS_DIR) == 0 ? "/etc/hosts" : NULL;
}

const char *
guest_dnsmasq_dir(const char *status_dir)
{
	const char *s = getenv("BANGER_DNSMASQ_DIR");
	struct stat st;

	if (s)
		return *s ? s : NULL;
	if (strcmp(status_dir, DEFAULT_STATUS_DIR) != 0)
		return NULL;
	return stat(DEFAULT_DNSMASQ_DIR, &st) == 0 && S_ISDIR(st.st_mode) ? DEFAULT_DNSMASQ_DIR
									   : NULL;
}

/* The entries guest_entries_read would give, from status files already read
 * (observed VMs are sorted by name, as status_list sorts). */
static void
guest_entries_from_observed(const struct observed *o, struct guest_entry **ret, size_t *ret_n)
{
	struct guest_entry *out = NULL;
	size_t n = 0;

	for (size_t i = 0; i < o->n_vms; i++) {
		const struct observed_vm *v = &o->vms[i];
		struct guest_entry *g;

		if (!v->has_status || !v->status.ip)
			continue;
		out = xappend(out, &n, sizeof(*out), (void **)&g);
		g->name = xstrdup(v->name);
		g->ip = v->status.ip;
	}
	*ret = out;
	*ret_n = n;
}

int
guest_hosts_refresh(const char *status_dir, const char *domain, const struct observed *o,
		    struct error **err)
{
	struct guest_entry *e = NULL;
	_cleanup_free_ char *body = NULL;
	const char *dnsmasq_dir = guest_dnsmasq_dir(status_dir);
	_cleanup_(error_freep) struct error *e2 = NULL;
	size_t n = 0;
	bool changed = false, new_dropin = false;
	int r, r2 = 0;

	if (o)
		guest_entries_from_observed(o, &e, &n);
	else {
		r = guest_entries_read(status_dir, &e, &n, err);
		if (r < 0)
			return r;
	}
	body = guest_hosts_format(e, n, domain);
	guest_entries_free(e, n);
	r = hosts_sync(status_dir, guest_hosts_file(status_dir), body, &changed, err);
	if (dnsmasq_dir) {
		r2 = dnsmasq_sync(dnsmasq_dir, body, &changed, &new_dropin, &e2);
		if (r2 < 0)
			(void)error_prefix(&e2, "dnsmasq");
		else if (new_dropin)
			cli_errorf("note: wrote '%s/" DNSMASQ_DROPIN "': restart dnsmasq once so "
				   "it reads it (later changes reach it without one)",
				   dnsmasq_dir);
	}
	if (r < 0) {
		/* Both failed: the hosts error is returned, this one shown. */
		if (r2 < 0) {
			_cleanup_free_ char *msg = error_format(e2);

			cli_errorf("warning: %s, ignoring", msg);
		}
		return r;
	}
	if (r2 < 0) {
		*err = TAKE_PTR(e2);
		return r2;
	}
	return 0;
}

static void
ssh_help(FILE *f)
{
	fputs("Usage: banger ssh NAME [-- COMMAND [ARG]...]\n"
	      "\n"
	      "Run ssh to the VM NAME as root, with banger's key (STATUS_DIR/ssh/id_ed25519)\n"
	      "and banger's known_hosts file (STATUS_DIR/ssh/known_hosts): the guest's host\n"
	      "key is recorded on the first connection and enforced after.  Without a\n"
	      "command, an interactive shell.  $BANGER_SSH names the ssh program.\n",
	      f);
	cli_common_help(f, false);
}

int
cli_ssh(int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS, {} };
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_free_ char *status_dir = NULL, *domain = NULL, *key = NULL, *kh = NULL;
	_cleanup_free_ char *o_kh = NULL, *o_alias = NULL, *target = NULL;
	_cleanup_strv_free_ char **args = NULL;
	struct vm_status st = { 0 };
	struct cli_common common;
	const char *name, *prog = getenv("BANGER_SSH");
	char ip[16];
	int c, r;

	cli_common_init(&common);
	optind = 0;
	opterr = 0;
	/* "+": options end at NAME; everything after "--" is the command. */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c != CLI_OPT_JSON && cli_common_option(&common, c, optarg))
			continue;
		if (c == CLI_OPT_HELP || c == 'h') {
			ssh_help(stdout);
			return EXIT_CONVERGED;
		}
		cli_errorf("ssh: unknown or incomplete option '%s'; see 'banger ssh --help'",
			   argv[optind - 1]);
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		cli_errorf("ssh: missing the vm's name; see 'banger ssh --help'");
		return EXIT_USAGE;
	}
	name = argv[optind++];
	if (!name_is_dns_label(name)) {
		cli_errorf("ssh: '%s' is not a vm name", name);
		return EXIT_USAGE;
	}
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	else if (optind < argc) {
		cli_errorf("ssh: put the command after '--': banger ssh %s -- %s", name,
			   argv[optind]);
		return EXIT_USAGE;
	}

	r = cli_resolve_dirs(&common, &status_dir, &domain, &err);
	if (r < 0) {
		cli_report(err);
		return EXIT_FAILED;
	}
	r = status_read(status_dir, name, &st, &err);
	if (r == -ENOENT) {
		cli_errorf("ssh: no vm '%s' in '%s' (run 'banger reconcile' first)", name,
			   status_dir);
		return EXIT_FAILED;
	}
	if (r < 0) {
		cli_report(err);
		return EXIT_FAILED;
	}
	if (!st.ip) {
		vm_status_done(&st);
		cli_errorf("ssh: vm '%s' has no address yet", name);
		return EXIT_FAILED;
	}
	/* A stopped guest answers nothing: say so rather than wait for ssh. */
	if (st.phase == VM_PHASE_STOPPED || st.phase == VM_PHASE_DELETING) {
		bool idle = st.stopped_idle;

		vm_status_done(&st);
		if (idle)
			cli_errorf("ssh: vm '%s' was stopped for idleness; 'banger start %s' starts "
				   "it",
				   name, name);
		else
			cli_errorf("ssh: vm '%s' is not running (declare 'state: running' and "
				   "reconcile)",
				   name);
		return EXIT_FAILED;
	}
	ipv4_format(st.ip, ip);
	vm_status_done(&st);
	key = ssh_key_path(status_dir);
	kh = ssh_known_hosts_path(status_dir);
	if (access(key, R_OK) < 0) {
		cli_errorf("ssh: no key '%s': %s (run 'banger reconcile' to make it)", key,
			   strerror(errno));
		return EXIT_FAILED;
	}
	o_kh = xasprintf("UserKnownHostsFile=%s", kh);
	o_alias = xasprintf("HostKeyAlias=%s.%s", name, domain);
	target = xasprintf("root@%s", ip);
	args = strv_append(args, prog && *prog ? prog : "ssh");
	args = strv_append(args, "-i");
	args = strv_append(args, key);
	args = strv_append(args, "-o");
	args = strv_append(args, "IdentitiesOnly=yes");
	args = strv_append(args, "-o");
	args = strv_append(args, o_kh);
	args = strv_append(args, "-o");
	args = strv_append(args, "StrictHostKeyChecking=accept-new");
	args = strv_append(args, "-o");
	args = strv_append(args, "HashKnownHosts=no");
	args = strv_append(args, "-o");
	args = strv_append(args, o_alias);
	args = strv_append(args, "-o");
	args = strv_append(args, "BatchMode=yes");
	/* A guest that is down or unreachable: an error, not a wait of
	 * minutes for the kernel's TCP timeout. */
	args = strv_append(args, "-o");
	args = strv_append(args, "ConnectTimeout=10");
	/* ssh reads options after the destination too, unless "--" ended
	 * them before it: the command's words are the command's, even one
	 * that looks like -oProxyCommand=... */
	args = strv_append(args, "--");
	args = strv_append(args, target);
	for (int i = optind; i < argc; i++)
		args = strv_append(args, argv[i]);
	fflush(NULL);
	execvp(args[0], args);
	cli_errorf("ssh: exec '%s': %s", args[0], strerror(errno));
	return EXIT_FAILED;
}

static void
config_help(FILE *f)
{
	fputs("Usage: banger ssh-config [--write] [--config PATH]\n"
	      "\n"
	      "Print an ssh_config(5) Host entry NAME.DOMAIN for every VM with an address,\n"
	      "so that 'ssh NAME.vm' works from any tool.  --write installs them instead\n"
	      "between '" MARKBLOCK_BEGIN "' and '" MARKBLOCK_END "' lines of ~/.ssh/config\n"
	      "(or PATH), atomically, leaving the rest of the file as it is.\n",
	      f);
	cli_common_help(f, false);
}

enum {
	OPT_WRITE = CLI_OPT_FIRST_PRIVATE,
	OPT_CONFIG,
};

/*
 * Install body in path's marked block.  The folder is made only when
 * make_dir (~/.ssh, which ssh expects, in a home folder that exists); a
 * symbolic link (a dotfile manager's) is written through, to the file it
 * names, and stays a link.  The file keeps its owner and mode; a new one
 * (and a new ~/.ssh) gets the owner of the folder it is made in, so that
 * root writing a user's config leaves it the user's.
 */
static int
write_config(const char *given, const char *body, bool make_dir)
{
	_cleanup_free_ char *old = NULL, *text = NULL, *dir = xstrdup(given), *real = NULL;
	const char *path = given;
	struct stat st, dst = { .st_uid = (uid_t)-1, .st_gid = (gid_t)-1 };
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	mode_t mode = 0600;
	size_t len = 0;
	char *slash;
	int r;

	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		r = stat(dir, &dst) < 0 ? -errno : 0;
		if (r == -ENOENT && make_dir) {
			_cleanup_free_ char *home = xstrdup(dir);
			char *s2 = strrchr(home, '/');
			struct stat hst;

			if (s2 && s2 != home)
				*s2 = '\0';
			r = stat(home, &hst) < 0 ? -errno : 0;
			if (r == 0 && mkdir(dir, 0700) < 0 && errno != EEXIST)
				r = -errno;
			if (r == 0 && (chown(dir, hst.st_uid, hst.st_gid) < 0 || stat(dir, &dst) < 0))
				r = -errno;
		}
		if (r < 0) {
			cli_errorf("ssh-config: folder '%s': %s", dir, strerror(-r));
			return EXIT_FAILED;
		}
		uid = dst.st_uid;
		gid = dst.st_gid;
	}
	if (lstat(given, &st) == 0 && S_ISLNK(st.st_mode)) {
		real = realpath(given, NULL);
		if (!real) {
			cli_errorf("ssh-config: '%s' is a symbolic link to nothing: %s", given,
				   strerror(errno));
			return EXIT_FAILED;
		}
		path = real;
	}
	r = read_file(path, SSH_CONFIG_MAX, &old, &len);
	if (r == -ENOENT)
		old = xstrdup("");
	else if (r < 0) {
		cli_errorf("ssh-config: read '%s': %s", path, strerror(-r));
		return EXIT_FAILED;
	} else if (stat(path, &st) == 0) {
		mode = st.st_mode & 07777;
		uid = st.st_uid;
		gid = st.st_gid;
	}
	r = markblock_replace(old, body, &text);
	if (r < 0) {
		cli_errorf("ssh-config: '%s': its '" MARKBLOCK_BEGIN "' block is damaged (a begin "
			   "line without its end, or two blocks); fix it by hand",
			   path);
		return EXIT_FAILED;
	}
	if (strcmp(old, text) == 0)
		return EXIT_CONVERGED;
	/* Only root may give a file away; anyone else writes its own. */
	if (geteuid() != 0)
		uid = (uid_t)-1, gid = (gid_t)-1;
	r = write_file_atomic_owned(path, text, strlen(text), mode, uid, gid);
	if (r < 0) {
		cli_errorf("ssh-config: write '%s': %s", path, strerror(-r));
		return EXIT_FAILED;
	}
	return EXIT_CONVERGED;
}

int
cli_ssh_config(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "write", no_argument, NULL, OPT_WRITE },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{},
	};
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_free_ char *status_dir = NULL, *domain = NULL, *key = NULL, *kh = NULL;
	_cleanup_free_ char *body = NULL, *def_path = NULL;
	struct guest_entry *e = NULL;
	struct cli_common common;
	const char *path = NULL;
	bool write = false;
	size_t n = 0;
	int c, r;

	cli_common_init(&common);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c != CLI_OPT_JSON && cli_common_option(&common, c, optarg))
			continue;
		switch (c) {
		case 'h':
		case CLI_OPT_HELP:
			config_help(stdout);
			return EXIT_CONVERGED;
		case OPT_WRITE:
			write = true;
			break;
		case OPT_CONFIG:
			path = optarg;
			break;
		default:
			cli_errorf("ssh-config: unknown or incomplete option '%s'; see 'banger "
				   "ssh-config --help'",
				   argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_errorf("ssh-config: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	r = cli_resolve_dirs(&common, &status_dir, &domain, &err);
	if (r < 0) {
		cli_report(err);
		return EXIT_FAILED;
	}
	if (!guest_ssh_config_path_ok(status_dir)) {
		cli_errorf("ssh-config: the status directory '%s' cannot be named in an ssh config "
			   "(it holds a '\"' or a control character)",
			   status_dir);
		return EXIT_FAILED;
	}
	/* No status directory is a typo or a host not set up yet, not "no VMs":
	 * an empty block would drop every entry installed before. */
	if (access(status_dir, F_OK) < 0) {
		cli_errorf("ssh-config: no status directory '%s': %s (run 'banger reconcile' "
			   "first, or check --status-dir and host.yaml's status_dir)",
			   status_dir, strerror(errno));
		return EXIT_FAILED;
	}
	r = guest_entries_read(status_dir, &e, &n, &err);
	if (r < 0) {
		cli_report(err);
		return EXIT_FAILED;
	}
	key = ssh_key_path(status_dir);
	kh = ssh_known_hosts_path(status_dir);
	body = guest_ssh_config_format(e, n, domain, key, kh);
	guest_entries_free(e, n);
	if (!write) {
		fputs(body, stdout);
		return EXIT_CONVERGED;
	}
	if (!path) {
		const char *home = getenv("HOME");

		if (!home || home[0] != '/') {
			cli_errorf("ssh-config: $HOME is not set; use --config PATH");
			return EXIT_FAILED;
		}
		def_path = xasprintf("%s/.ssh/config", home);
		path = def_path;
	}
	return write_config(path, body, path == def_path);
}
