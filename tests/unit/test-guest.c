/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for reaching guests: marked blocks (ssh config, hosts), the
 * hosts and ssh-config text, hosts_sync, dnsmasq_sync, the SSH key pair, durations and
 * domains in the spec, /proc parsers, CPU per mille from two samples, the
 * idle decision (table) and the status fields that carry them.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/ssh.h"
#include "drivers/disk-internal.h"
#include "drivers/guest.h"
#include "plan/idle.h"
#include "spec/spec.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/markblock.h"

static char tmpdir[64];

static void
setup_tmp(void)
{
	strcpy(tmpdir, "/tmp/banger-guest-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown_tmp(void)
{
	struct error *err = NULL;

	if (disk_rm_rf(tmpdir, &err) < 0)
		error_free(err);
}

START_TEST(test_markblock_append_replace_remove)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

	/* Appended after a file without a final newline. */
	ck_assert_int_eq(markblock_replace("Host x\n\tUser y", "Host a\n", &a), 0);
	ck_assert_str_eq(a, "Host x\n\tUser y\n# BEGIN banger\nHost a\n# END banger\n");
	/* Replaced in place, the lines around kept byte for byte. */
	ck_assert_int_eq(markblock_replace("top\n# BEGIN banger\nold\nold2\n# END banger\nbottom\n",
					   "new\n", &b),
			 0);
	ck_assert_str_eq(b, "top\n# BEGIN banger\nnew\n# END banger\nbottom\n");
	/* An empty body keeps an empty block; NULL removes it. */
	ck_assert_int_eq(markblock_replace(b, "", &c), 0);
	ck_assert_str_eq(c, "top\n# BEGIN banger\n# END banger\nbottom\n");
	ck_assert_int_eq(markblock_replace(b, NULL, &d), 0);
	ck_assert_str_eq(d, "top\nbottom\n");
	/* Empty file; a body without a final newline gets one. */
	ck_assert_int_eq(markblock_replace("", "x", &e), 0);
	ck_assert_str_eq(e, "# BEGIN banger\nx\n# END banger\n");
}
END_TEST

START_TEST(test_markblock_idempotent_and_crlf)
{
	_cleanup_free_ char *a = NULL, *b = NULL;

	ck_assert_int_eq(markblock_replace("a\n", "h\n", &a), 0);
	ck_assert_int_eq(markblock_replace(a, "h\n", &b), 0);
	ck_assert_str_eq(a, b);
	free(b);
	b = NULL;
	/* Marks with trailing blanks or CR still count. */
	ck_assert_int_eq(markblock_replace("# BEGIN banger \r\nx\n# END banger\r\nz\n", "y\n", &b),
			 0);
	ck_assert_str_eq(b, "# BEGIN banger\ny\n# END banger\nz\n");
}
END_TEST

START_TEST(test_markblock_damaged)
{
	char *r = NULL;

	ck_assert_int_eq(markblock_replace("# BEGIN banger\nx\n", "y\n", &r), -EBADMSG);
	ck_assert_int_eq(markblock_replace("# END banger\n# BEGIN banger\n# END banger\n", "y\n", &r),
			 -EBADMSG);
	ck_assert_int_eq(markblock_replace("# BEGIN banger\n# END banger\n# BEGIN banger\n# END "
					   "banger\n",
					   "y\n", &r),
			 -EBADMSG);
	ck_assert_int_eq(markblock_replace("# BEGIN banger\n# BEGIN banger\n# END banger\n", "y\n",
					   &r),
			 -EBADMSG);
	ck_assert_ptr_null(r);
	/* A mark inside a longer line is not a mark. */
	ck_assert_int_eq(markblock_replace("x # BEGIN banger\n", "y\n", &r), 0);
	ck_assert_str_eq(r, "x # BEGIN banger\n# BEGIN banger\ny\n# END banger\n");
	free(r);
}
END_TEST

static struct guest_entry two[] = {
	{ (char *)"db", 10u << 24 | 77u << 16 | 3 },
	{ (char *)"web", 10u << 24 | 77u << 16 | 2 },
};

START_TEST(test_hosts_and_ssh_config_text)
{
	_cleanup_free_ char *h = guest_hosts_format(two, 2, "vm");
	_cleanup_free_ char *h0 = guest_hosts_format(two, 0, "vm");
	_cleanup_free_ char *c = guest_ssh_config_format(two, 1, "lab.example", "/s/ssh/id_ed25519",
							 "/s/ssh/known_hosts");

	ck_assert_str_eq(h, "10.77.0.3\tdb.vm\n10.77.0.2\tweb.vm\n");
	ck_assert_str_eq(h0, "");
	ck_assert_str_eq(c, "Host db.lab.example\n"
			    "\tHostName 10.77.0.3\n"
			    "\tUser root\n"
			    "\tIdentityFile \"/s/ssh/id_ed25519\"\n"
			    "\tIdentitiesOnly yes\n"
			    "\tUserKnownHostsFile \"/s/ssh/known_hosts\"\n"
			    "\tStrictHostKeyChecking accept-new\n"
			    "\tHashKnownHosts no\n"
			    "\tHostKeyAlias db.lab.example\n");
	/* A path with a space and a '%' stays one argument, taken literally. */
	{
		_cleanup_free_ char *q = guest_ssh_config_format(
			two + 1, 1, "vm", "/my dir/100%/id", "/my dir/100%/kh");

		ck_assert_ptr_nonnull(strstr(q, "\tIdentityFile \"/my dir/100%%/id\"\n"));
		ck_assert_ptr_nonnull(strstr(q, "\tUserKnownHostsFile \"/my dir/100%%/kh\"\n"));
	}
	ck_assert(guest_ssh_config_path_ok("/var/lib/my banger"));
	ck_assert(!guest_ssh_config_path_ok("/var/lib/a\"b"));
	ck_assert(!guest_ssh_config_path_ok("/var/lib/a\nb"));
}
END_TEST

START_TEST(test_hosts_sync_writes_only_changes)
{
	_cleanup_free_ char *hosts = xasprintf("%s/etc-hosts", tmpdir);
	_cleanup_free_ char *frag = xasprintf("%s/hosts", tmpdir);
	_cleanup_free_ char *data = NULL;
	struct error *err = NULL;
	struct stat st1, st2;
	bool changed = false;
	size_t len;

	ck_assert_int_eq(write_file_atomic(hosts, "127.0.0.1 localhost\n", 20, 0644), 0);
	ck_assert_int_eq(hosts_sync(tmpdir, hosts, "10.77.0.2\tweb.vm\n", &changed, &err), 0);
	ck_assert(changed);
	ck_assert_int_eq(read_file(hosts, 4096, &data, &len), 0);
	ck_assert_str_eq(data, "127.0.0.1 localhost\n# BEGIN banger\n10.77.0.2\tweb.vm\n# END "
			       "banger\n");
	free(data);
	ck_assert_int_eq(read_file(frag, 4096, &data, &len), 0);
	ck_assert_str_eq(data, "10.77.0.2\tweb.vm\n");
	ck_assert_int_eq(stat(hosts, &st1), 0);
	/* Same content: neither file is rewritten (same inode). */
	ck_assert_int_eq(hosts_sync(tmpdir, hosts, "10.77.0.2\tweb.vm\n", &changed, &err), 0);
	ck_assert(!changed);
	ck_assert_int_eq(stat(hosts, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	/* No VMs: an empty block, the fragment empty. */
	ck_assert_int_eq(hosts_sync(tmpdir, hosts, "", &changed, &err), 0);
	ck_assert(changed);
	free(data);
	ck_assert_int_eq(read_file(hosts, 4096, &data, &len), 0);
	ck_assert_str_eq(data, "127.0.0.1 localhost\n# BEGIN banger\n# END banger\n");
	/* A damaged block is left alone. */
	ck_assert_int_eq(write_file_atomic(hosts, "# BEGIN banger\nx\n", 17, 0644), 0);
	ck_assert_int_eq(hosts_sync(tmpdir, hosts, "", &changed, &err), -EBADMSG);
	error_free(err);
	free(data);
	ck_assert_int_eq(read_file(hosts, 4096, &data, &len), 0);
	ck_assert_str_eq(data, "# BEGIN banger\nx\n");
}
END_TEST

/* Names in a folder: the entries besides dot files, sorted, "," separated. */
static char *
listing(const char *dir)
{
	char *out = xstrdup("");
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			char *t = xasprintf("%s%s%s", out, *out ? "," : "", ents[i]->d_name);

			free(out);
			out = t;
		}
		free(ents[i]);
	}
	free(ents);
	return out;
}

START_TEST(test_dnsmasq_sync)
{
	_cleanup_free_ char *conf = xasprintf("%s/dnsmasq.d", tmpdir);
	_cleanup_free_ char *dropin = xasprintf("%s/" DNSMASQ_DROPIN, conf);
	_cleanup_free_ char *hdir = xasprintf("%s/" DNSMASQ_HOSTS_DIR, conf);
	_cleanup_free_ char *hosts = xasprintf("%s/" DNSMASQ_HOSTS_FILE, hdir);
	_cleanup_free_ char *want = xasprintf(DNSMASQ_MARK ": the guests' names (banger(8), "
					      "GUEST NAMES); removed when no VM is left\n"
					      "hostsdir=%s\n", hdir);
	_cleanup_free_ char *other = xasprintf("%s/other.conf", conf);
	char *data = NULL, *l = NULL;
	struct error *err = NULL;
	struct stat st1, st2;
	bool changed = false, fresh = false;
	size_t len;

	/* No conf dir: nothing is created. */
	ck_assert_int_eq(dnsmasq_sync(conf, "10.77.0.2\tweb.vm\n", &changed, &fresh, &err),
			 -ENOENT);
	err = error_free(err);
	ck_assert_int_eq(access(conf, F_OK), -1);

	ck_assert_int_eq(mkdir(conf, 0755), 0);
	ck_assert_int_eq(write_file_atomic(other, "server=1.1.1.1\n", 15, 0644), 0);
	/* As under the systemd unit: the folder must still be 0755. */
	umask(0077);
	/* No VM yet: nothing to write, nothing to remove. */
	ck_assert_int_eq(dnsmasq_sync(conf, "", &changed, &fresh, &err), 0);
	ck_assert(!changed && !fresh);
	l = listing(conf);
	ck_assert_str_eq(l, "other.conf");
	free(l);

	ck_assert_int_eq(dnsmasq_sync(conf, "10.77.0.2\tweb.vm\n", &changed, &fresh, &err), 0);
	ck_assert(changed && fresh);
	ck_assert_int_eq(read_file(dropin, 4096, &data, &len), 0);
	ck_assert_str_eq(data, want);
	free(data);
	ck_assert_int_eq(read_file(hosts, 4096, &data, &len), 0);
	ck_assert_str_eq(data, DNSMASQ_MARK ": the guests' names, for dnsmasq (" DNSMASQ_DROPIN
			 "); rewritten on every reconcile\n10.77.0.2\tweb.vm\n");
	free(data);
	ck_assert_int_eq(stat(hosts, &st1), 0);
	ck_assert_uint_eq(st1.st_mode & 07777, 0644);
	ck_assert_int_eq(stat(hdir, &st2), 0);
	ck_assert_uint_eq(st2.st_mode & 07777, 0755);
	ck_assert_int_eq(stat(dropin, &st2), 0);
	ck_assert_uint_eq(st2.st_mode & 07777, 0644);
	/* No staging file is left where dnsmasq looks (dot files included). */
	l = listing(conf);
	ck_assert_str_eq(l, DNSMASQ_HOSTS_DIR "," DNSMASQ_DROPIN ",other.conf");
	free(l);
	{
		_cleanup_free_ char *dot = xasprintf("%s/." DNSMASQ_HOSTS_FILE ".new", hdir);

		ck_assert_int_eq(access(dot, F_OK), -1);
	}

	/* Same names: nothing rewritten (same inode), not fresh. */
	ck_assert_int_eq(dnsmasq_sync(conf, "10.77.0.2\tweb.vm\n", &changed, &fresh, &err), 0);
	ck_assert(!changed && !fresh);
	ck_assert_int_eq(stat(hosts, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	/* Another VM: the hosts file changes, the drop-in is not new. */
	ck_assert_int_eq(dnsmasq_sync(conf, "10.77.0.2\tweb.vm\n10.77.0.3\tdb.vm\n", &changed,
				      &fresh, &err),
			 0);
	ck_assert(changed && !fresh);
	ck_assert_int_eq(stat(hosts, &st2), 0);
	ck_assert_uint_ne(st1.st_ino, st2.st_ino);

	/* No VM left: banger's files and folder go, the others stay. */
	ck_assert_int_eq(dnsmasq_sync(conf, "", &changed, &fresh, &err), 0);
	ck_assert(changed && !fresh);
	l = listing(conf);
	ck_assert_str_eq(l, "other.conf");
	free(l);

	/* A drop-in banger did not write is left alone, and so is its hosts file. */
	ck_assert_int_eq(write_file_atomic(dropin, "hostsdir=/srv\n", 14, 0644), 0);
	ck_assert_int_eq(dnsmasq_sync(conf, "10.77.0.2\tweb.vm\n", &changed, &fresh, &err),
			 -EEXIST);
	ck_assert_ptr_nonnull(strstr(err->msg, "was not written by banger"));
	err = error_free(err);
	ck_assert_int_eq(dnsmasq_sync(conf, "", &changed, &fresh, &err), -EEXIST);
	err = error_free(err);
	ck_assert_int_eq(read_file(dropin, 4096, &data, &len), 0);
	ck_assert_str_eq(data, "hostsdir=/srv\n");
	free(data);
	ck_assert_int_eq(unlink(dropin), 0);
	ck_assert_int_eq(mkdir(hdir, 0755), 0);
	ck_assert_int_eq(write_file_atomic(hosts, "10.0.0.9 mine\n", 14, 0644), 0);
	ck_assert_int_eq(dnsmasq_sync(conf, "10.77.0.2\tweb.vm\n", &changed, &fresh, &err),
			 -EEXIST);
	err = error_free(err);
	ck_assert_int_eq(access(dropin, F_OK), -1);
	/* A file of someone else's in banger's folder keeps the folder. */
	ck_assert_int_eq(unlink(hosts), 0);
	{
		_cleanup_free_ char *theirs = xasprintf("%s/theirs", hdir);

		ck_assert_int_eq(write_file_atomic(theirs, "x\n", 2, 0644), 0);
		ck_assert_int_eq(dnsmasq_sync(conf, "10.77.0.2\tweb.vm\n", &changed, &fresh,
					      &err),
				 0);
		ck_assert_int_eq(dnsmasq_sync(conf, "", &changed, &fresh, &err), 0);
		l = listing(hdir);
		ck_assert_str_eq(l, "theirs");
		free(l);
	}
}
END_TEST

START_TEST(test_ssh_key_ensure)
{
	_cleanup_free_ char *pub1 = NULL, *pub2 = NULL, *pub3 = NULL;
	_cleanup_free_ char *key = NULL, *dir = NULL;
	struct error *err = NULL;
	struct stat st;

	if (access("/usr/bin/ssh-keygen", X_OK) < 0)
		return;
	key = ssh_key_path(tmpdir);
	dir = ssh_dir(tmpdir);
	ck_assert_int_eq(ssh_pubkey_read(tmpdir, &pub3, &err), -ENOENT);
	ck_assert_int_eq(ssh_key_ensure(tmpdir, &pub1, &err), 0);
	ck_assert_str_eq(pub1 + strlen(pub1) - 7, " banger");
	ck_assert(strncmp(pub1, "ssh-ed25519 ", 12) == 0);
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	/* Made once: the second call reads the same pair. */
	ck_assert_int_eq(ssh_key_ensure(tmpdir, &pub2, &err), 0);
	ck_assert_str_eq(pub1, pub2);
	ck_assert_int_eq(ssh_pubkey_read(tmpdir, &pub3, &err), 0);
	ck_assert_str_eq(pub1, pub3);
}
END_TEST

START_TEST(test_known_hosts_forget)
{
	_cleanup_free_ char *dir = ssh_dir(tmpdir), *kh = ssh_known_hosts_path(tmpdir);
	_cleanup_free_ char *data = NULL;
	struct error *err = NULL;
	const char *text = "web.vm ssh-ed25519 AAAA1\n"
			   "webby.vm ssh-ed25519 AAAA2\n"
			   "x.vm,web.vm ssh-ed25519 AAAA3\n"
			   "db.vm ssh-ed25519 web.vm\n";
	struct stat st;
	size_t len;

	ck_assert_int_eq(ssh_known_hosts_forget(tmpdir, "web.vm", &err), 0);
	ck_assert_int_eq(mkdir_p(dir, 0700), 0);
	ck_assert_int_eq(write_file_atomic(kh, text, strlen(text), 0600), 0);
	ck_assert_int_eq(ssh_known_hosts_forget(tmpdir, "web.vm", &err), 0);
	ck_assert_int_eq(read_file(kh, 4096, &data, &len), 0);
	ck_assert_str_eq(data, "webby.vm ssh-ed25519 AAAA2\ndb.vm ssh-ed25519 web.vm\n");
	ck_assert_int_eq(stat(kh, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(test_ssh_key_no_keygen)
{
	struct error *err = NULL;
	char *pub = NULL;

	setenv("BANGER_SSH_KEYGEN", "/nonexistent/ssh-keygen", 1);
	ck_assert_int_eq(ssh_key_ensure(tmpdir, &pub, &err), -ENOENT);
	ck_assert_ptr_null(pub);
	error_free(err);
	unsetenv("BANGER_SSH_KEYGEN");
}
END_TEST

START_TEST(test_duration)
{
	uint64_t v = 0;

	ck_assert_int_eq(spec_parse_duration("30m", &v), 0);
	ck_assert_uint_eq(v, 1800);
	ck_assert_int_eq(spec_parse_duration("20s", &v), 0);
	ck_assert_uint_eq(v, 20);
	ck_assert_int_eq(spec_parse_duration("2h", &v), 0);
	ck_assert_uint_eq(v, 7200);
	ck_assert_int_eq(spec_parse_duration("0s", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(spec_parse_duration("30", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_duration("m", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_duration("-5m", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_duration("5 m", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_duration("5mm", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_duration("5d", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_duration("", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_duration("99999999999999999999s", &v), -ERANGE);
	ck_assert_int_eq(spec_parse_duration("9999999999999999999h", &v), -ERANGE);
}
END_TEST

START_TEST(test_domain)
{
	ck_assert(spec_domain_ok("vm"));
	ck_assert(spec_domain_ok("lab.example.org"));
	ck_assert(spec_domain_ok("a-1.b2"));
	ck_assert(!spec_domain_ok(""));
	ck_assert(!spec_domain_ok("vm."));
	ck_assert(!spec_domain_ok(".vm"));
	ck_assert(!spec_domain_ok("a..b"));
	ck_assert(!spec_domain_ok("-a.b"));
	ck_assert(!spec_domain_ok("a_b"));
	ck_assert(!spec_domain_ok("VM"));
}
END_TEST

static const char spec_vm_idle[] = "image: demo\nidle_stop_after: 20s\n";
static const char spec_vm_short[] = "image: demo\nidle_stop_after: 5s\n";

START_TEST(test_spec_idle_and_domain_keys)
{
	_cleanup_(spec_freep) struct spec *s = NULL;
	struct error *err = NULL;

	ck_assert_int_eq(spec_load_file(SPEC_KIND_VM, "vms/web.yaml", spec_vm_idle,
					strlen(spec_vm_idle), &s, &err),
			 0);
	ck_assert_uint_eq(s->n_diags, 0);
	ck_assert_uint_eq(s->n_vms, 1);
	ck_assert_uint_eq(s->vms[0].idle_stop_after, 20);
	spec_free(s);
	s = NULL;
	ck_assert_int_eq(spec_load_file(SPEC_KIND_VM, "vms/web.yaml", spec_vm_short,
					strlen(spec_vm_short), &s, &err),
			 0);
	ck_assert_uint_eq(s->n_diags, 1);
	ck_assert_str_eq(s->diags[0].msg,
			 "idle_stop_after: found '5s', expected a duration from 10s to 720h (digits "
			 "and s, m or h: '30m')");
	spec_free(s);
	s = NULL;
	ck_assert_int_eq(spec_load_file(SPEC_KIND_HOST, "host.yaml", "domain: lab.example\n", 20, &s,
					&err),
			 0);
	ck_assert_uint_eq(s->n_diags, 0);
	ck_assert_str_eq(s->host.domain, "lab.example");
	spec_free(s);
	s = NULL;
	ck_assert_int_eq(spec_load_file(SPEC_KIND_HOST, "host.yaml", "domain: bad_name\n", 17, &s,
					&err),
			 0);
	ck_assert_uint_eq(s->n_diags, 1);
}
END_TEST

START_TEST(test_parse_proc_stat)
{
	/* A command with spaces and a ')' in it. */
	const char *t = "1234 (qemu (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 "
			"3 0 987654 123456789 1000 18446744073709551615\n";
	uint64_t cpu = 0, start = 0;

	ck_assert_int_eq(stats_parse_stat(t, &cpu, &start), 0);
	ck_assert_uint_eq(cpu, 300);
	ck_assert_uint_eq(start, 987654);
	ck_assert_int_eq(stats_parse_stat("1234 qemu S 1", &cpu, &start), -EBADMSG);
	ck_assert_int_eq(stats_parse_stat("1234 (qemu) S 1 2 3", &cpu, &start), -EBADMSG);
}
END_TEST

START_TEST(test_count_established)
{
	/* 10.77.0.2 is 0x0A4D0002: printed as 02004D0A on little-endian hosts. */
	const char *t =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
		"   0: 01004D0A:C350 02004D0A:0016 01 00000000:00000000 00:00000000 00000000     0\n"
		"   1: 01004D0A:C351 02004D0A:0016 06 00000000:00000000 00:00000000 00000000     0\n"
		"   2: 01004D0A:C352 03004D0A:0016 01 00000000:00000000 00:00000000 00000000     0\n"
		"   3: 01004D0A:C353 02004D0A:0050 01 00000000:00000000 00:00000000 00000000     0\n"
		"   4: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
		"   5: 01004D0A:C354 02004D0A:0016 01 00000000:00000000 00:00000000 00000000     0\n";
	uint32_t ip = 10u << 24 | 77u << 16 | 2;

	if (*(const uint8_t *)&(uint32_t){ 1 } != 1)
		return; /* the sample text is little-endian */
	ck_assert_uint_eq(stats_count_established(t, ip, 22), 2);
	ck_assert_uint_eq(stats_count_established(t, ip, 80), 1);
	ck_assert_uint_eq(stats_count_established(t, ip + 5, 22), 0);
	ck_assert_uint_eq(stats_count_established("", ip, 22), 0);
}
END_TEST

START_TEST(test_cpu_permille)
{
	/* 100 ticks/s: 1 s of CPU over 10 s = 10% = 100 per mille. */
	ck_assert_int_eq(idle_cpu_permille(1000, 1100, 50000, 60000, 100), 100);
	ck_assert_int_eq(idle_cpu_permille(1000, 1000, 50000, 60000, 100), 0);
	/* Two cores busy: 2000 per mille. */
	ck_assert_int_eq(idle_cpu_permille(0, 2000, 0, 10000, 100), 2000);
	/* 1 tick in 60 s: 0.17 per mille, rounds to 0. */
	ck_assert_int_eq(idle_cpu_permille(0, 1, 0, 60000, 100), 0);
	ck_assert_int_eq(idle_cpu_permille(0, 2, 0, 1000, 100), 20);
	ck_assert_int_eq(idle_cpu_permille(0, 1, 1000, 1000, 100), -1);
	ck_assert_int_eq(idle_cpu_permille(5, 1, 0, 1000, 100), -1);
	ck_assert_int_eq(idle_cpu_permille(0, 1, 0, 1000, 0), -1);
}
END_TEST

struct idle_case {
	const char *what;
	struct idle_input in;
	int permille;
	uint64_t idle_since;
	bool stop;
};

START_TEST(test_idle_decide_table)
{
	static const struct idle_case cases[] = {
		{ "first sample: unknown, not idle",
		  { 20000, false, 0, 0, 10, 100000, 100, 0, 0 }, -1, 0, false },
		{ "quiet interval starts an idle run at the previous sample",
		  { 20000, true, 10, 100000, 11, 110000, 100, 0, 0 }, 1, 100000, false },
		{ "still quiet, 20 s reached: stop",
		  { 20000, true, 11, 110000, 11, 120000, 100, 0, 100000 }, 0, 100000, true },
		{ "still quiet, 19.999 s: not yet",
		  { 20000, true, 11, 110000, 11, 119999, 100, 0, 100000 }, 0, 100000, false },
		{ "busy interval (10%) ends the idle run",
		  { 20000, true, 0, 110000, 100, 120000, 100, 0, 100000 }, 100, 0, false },
		{ "just under the threshold (9.9%) is idle",
		  { 20000, true, 0, 1000, 99, 11000, 100, 0, 0 }, 99, 1000, false },
		{ "an ssh session keeps it busy",
		  { 20000, true, 11, 110000, 11, 120000, 100, 1, 100000 }, 0, 0, false },
		{ "no idle_stop_after: tracked, never stopped",
		  { 0, true, 11, 110000, 11, 9999999, 100, 0, 100000 }, 0, 100000, false },
		{ "clock went back: unknown, idle run ends",
		  { 20000, true, 11, 120000, 11, 110000, 100, 0, 100000 }, -1, 0, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct idle_case *c = &cases[i];
		struct idle_decision d;

		plan_idle_decide(&c->in, &d);
		ck_assert_msg(d.cpu_permille == c->permille, "%s: permille %d", c->what,
			      d.cpu_permille);
		ck_assert_msg(d.idle_since_ms == c->idle_since, "%s: idle_since %llu", c->what,
			      (unsigned long long)d.idle_since_ms);
		ck_assert_msg(d.stop == c->stop, "%s: stop %d", c->what, d.stop);
	}
}
END_TEST

START_TEST(test_status_idle_fields_roundtrip)
{
	struct vm_status s = { 0 }, back = { 0 };
	_cleanup_free_ char *text = NULL, *plain = NULL;
	struct error *err = NULL;

	s.name = xstrdup("web");
	strcpy(s.id, "0123456789abcdef0123456789abcdef");
	s.phase = VM_PHASE_STOPPED;
	s.cpu_permille = -1;
	plain = status_format(&s);
	ck_assert_ptr_null(strstr(plain, "cpu_"));
	ck_assert_ptr_null(strstr(plain, "stopped_reason"));
	s.cpu_ticks = 1234;
	s.cpu_start_ticks = 55;
	s.cpu_sample_ms = 1700000000000ULL;
	s.cpu_permille = 7;
	s.idle_since_ms = 1699999990000ULL;
	s.stopped_idle = true;
	s.stopped_ms = 1700000000001ULL;
	memset(s.stopped_generation, 'a', 64);
	text = status_format(&s);
	ck_assert_ptr_nonnull(strstr(text, "stopped_reason: "));
	ck_assert_int_eq(status_parse(text, strlen(text), "vms/web.yaml", &back, &err), 0);
	ck_assert_uint_eq(back.cpu_ticks, 1234);
	ck_assert_uint_eq(back.cpu_start_ticks, 55);
	ck_assert_uint_eq(back.cpu_sample_ms, 1700000000000ULL);
	ck_assert_int_eq(back.cpu_permille, 7);
	ck_assert_uint_eq(back.idle_since_ms, 1699999990000ULL);
	ck_assert(back.stopped_idle);
	ck_assert_uint_eq(back.stopped_ms, 1700000000001ULL);
	ck_assert_str_eq(back.stopped_generation, s.stopped_generation);
	vm_status_done(&back);
	vm_status_done(&s);
}
END_TEST

static Suite *
guest_suite(void)
{
	Suite *s = suite_create("guest");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
	tcase_add_test(tc, test_markblock_append_replace_remove);
	tcase_add_test(tc, test_markblock_idempotent_and_crlf);
	tcase_add_test(tc, test_markblock_damaged);
	tcase_add_test(tc, test_hosts_and_ssh_config_text);
	tcase_add_test(tc, test_hosts_sync_writes_only_changes);
	tcase_add_test(tc, test_dnsmasq_sync);
	tcase_add_test(tc, test_ssh_key_ensure);
	tcase_add_test(tc, test_ssh_key_no_keygen);
	tcase_add_test(tc, test_known_hosts_forget);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_domain);
	tcase_add_test(tc, test_spec_idle_and_domain_keys);
	tcase_add_test(tc, test_parse_proc_stat);
	tcase_add_test(tc, test_count_established);
	tcase_add_test(tc, test_cpu_permille);
	tcase_add_test(tc, test_idle_decide_table);
	tcase_add_test(tc, test_status_idle_fields_roundtrip);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(guest_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
