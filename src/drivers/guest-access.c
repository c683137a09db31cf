/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger's SSH key pair and the hosts files: the host side of reaching a
 * guest by key and by name.  ssh-keygen is exec'd with an argv, never
 * through a shell (spawn_wait_tied).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/guest.h"
#include "drivers/spawn-tied.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/markblock.h"
#include "util/path.h"


#define PUBKEY_MAX 4096
#define HOSTS_MAX (16 * 1024 * 1024)

char *
ssh_dir(const char *status_dir)
{
	return xasprintf("%s/ssh", status_dir);
}

char *
ssh_key_path(const char *status_dir)
{
	return xasprintf("%s/ssh/id_ed25519", status_dir);
}

char *
ssh_known_hosts_path(const char *status_dir)
{
	return xasprintf("%s/ssh/known_hosts", status_dir);
}

static int
read_pubkey(const char *path, char **ret, struct error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r;

	r = read_file(path, PUBKEY_MAX, &data, &len);
	if (r < 0)
		return error_set(err, r, "read '%s'", path);
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	if (len == 0 || strpbrk(data, "\r\n") || strncmp(data, "ssh-ed25519 ", 12) != 0)
		return error_set(err, -EBADMSG, "'%s' is not one ed25519 public key line", path);
	*ret = TAKE_PTR(data);
	return 0;
}

static int
run_keygen(const char *path, struct error **err)
{
	const char *env = getenv("BANGER_SSH_KEYGEN");
	_cleanup_free_ char *prog = xstrdup(env && *env ? env : "ssh-keygen");
	_cleanup_free_ char *file = xstrdup(path);
	char q[] = "-q", t[] = "-t", type[] = "ed25519", n[] = "-N", empty[] = "", f[] = "-f";
	char c[] = "-C", comment[] = "banger";
	char *argv[] = { prog, q, t, type, n, empty, f, file, c, comment, NULL };

	/* Tied to this process: a run killed part way leaves no ssh-keygen
	 * writing the pair after the next run made its own. */
	return spawn_wait_tied(argv, true, err);
}

bool
ssh_keygen_available(void)
{
	const char *env = getenv("BANGER_SSH_KEYGEN");

	return path_find_executable(env && *env ? env : "ssh-keygen");
}

int
ssh_key_ensure(const char *status_dir, char **ret_pubkey, struct error **err)
{
	_cleanup_free_ char *dir = ssh_dir(status_dir), *key = ssh_key_path(status_dir);
	_cleanup_free_ char *pub = xasprintf("%s.pub", key);
	_cleanup_free_ char *tmp = NULL, *tmp_pub = NULL;
	struct stat st;
	int r;

	r = mkdir_p(dir, 0700);
	if (r < 0)
		return error_set(err, r, "create '%s'", dir);
	if (lstat(dir, &st) < 0)
		return error_set(err, -errno, "stat '%s'", dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return error_set(err, -EPERM, "'%s' is not a directory of ours", dir);
	if (st.st_mode & 0077 && chmod(dir, 0700) < 0)
		return error_set(err, -errno, "chmod '%s'", dir);
	if (access(key, F_OK) == 0 && access(pub, F_OK) == 0) {
		if (stat(key, &st) < 0)
			return error_set(err, -errno, "stat '%s'", key);
		if (st.st_mode & 0077 && chmod(key, 0600) < 0)
			return error_set(err, -errno, "chmod '%s'", key);
		return read_pubkey(pub, ret_pubkey, err);
	}

	/* A new pair under temporary names: ssh-keygen refuses to overwrite, so
	 * leftovers of an interrupted run go first; the public half is renamed
	 * last, and only a complete pair counts as present. */
	tmp = xasprintf("%s.tmp", key);
	tmp_pub = xasprintf("%s.tmp.pub", key);
	(void)unlink(tmp);
	(void)unlink(tmp_pub);
	r = run_keygen(tmp, err);
	if (r < 0)
		return error_prefix(err, "ssh key '%s'", key);
	if (chmod(tmp, 0600) < 0 || rename(tmp, key) < 0 || rename(tmp_pub, pub) < 0) {
		r = -errno;
		(void)unlink(tmp);
		(void)unlink(tmp_pub);
		return error_set(err, r, "ssh key '%s': install", key);
	}
	(void)fsync_parent_dir(key);
	return read_pubkey(pub, ret_pubkey, err);
}

int
ssh_pubkey_read(const char *status_dir, char **ret_pubkey, struct error **err)
{
	_cleanup_free_ char *key = ssh_key_path(status_dir);
	_cleanup_free_ char *pub = xasprintf("%s.pub", key);

	if (access(key, F_OK) < 0 || access(pub, F_OK) < 0)
		return -ENOENT;
	return read_pubkey(pub, ret_pubkey, err);
}

static bool
names_host(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name), i = 0;

	/* The first field: NAME[,NAME...] up to a blank. */
	while (i < len && line[i] != ' ' && line[i] != '\t') {
		size_t j = i;

		while (j < len && line[j] != ',' && line[j] != ' ' && line[j] != '\t')
			j++;
		if (j - i == n && memcmp(line + i, name, n) == 0)
			return true;
		i = j < len && line[j] == ',' ? j + 1 : j;
	}
	return false;
}

int
ssh_known_hosts_forget(const char *status_dir, const char *name, struct error **err)
{
	_cleanup_free_ char *path = ssh_known_hosts_path(status_dir);
	_cleanup_free_ char *data = NULL, *out = NULL;
	size_t len = 0, o = 0;
	bool dropped = false;
	int r;

	r = read_file(path, HOSTS_MAX, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return error_set(err, r, "read '%s'", path);
	out = xmalloc(len + 1);
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (data + i)) + 1 : len - i;

		if (names_host(data + i, l, name))
			dropped = true;
		else {
			memcpy(out + o, data + i, l);
			o += l;
		}
		i += l;
	}
	if (!dropped)
		return 0;
	r = write_file_atomic(path, out, o, 0600);
	if (r < 0)
		return error_set(err, r, "write '%s'", path);
	return 0;
}

/* Write path with content unless it already holds exactly that. */
static int
write_if_changed(const char *path, const char *content, bool *changed, struct error **err)
{
	_cleanup_free_ char *old = NULL;
	size_t len = 0;
	int r;

	r = read_file(path, HOSTS_MAX, &old, &len);
	if (r >= 0 && len == strlen(content) && memcmp(old, content, len) == 0)
		return 0;
	if (r < 0 && r != -ENOENT)
		return error_set(err, r, "read '%s'", path);
	r = write_file_atomic(path, content, strlen(content), 0644);
	if (r < 0)
		return error_set(err, r, "write '%s'", path);
	*changed = true;
	return 0;
}

/*
 * Rewrite path in place: for a hosts file that is a mount point of its own
 * (a container's bind-mounted /etc/hosts, systemd's ReadWritePaths= on a
 * read-only /etc), where no temporary file can be renamed over it.  Not
 * atomic: the new text is written over the old, then the file is cut to
 * its length, so a reader at that moment may see the new text followed by
 * a tail of the old one.
 */
static int
write_in_place(const char *path, const char *content, struct error **err)
{
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(content), done = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return error_set(err, -errno, "open '%s'", path);
	while (done < len) {
		ssize_t k = pwrite(fd, content + done, len - done, (off_t)done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return error_set(err, -errno, "write '%s'", path);
		done += (size_t)k;
	}
	if (ftruncate(fd, (off_t)len) < 0)
		return error_set(err, -errno, "truncate '%s'", path);
	if (fsync(fd) < 0)
		return error_set(err, -errno, "sync '%s'", path);
	return 0;
}

int
hosts_sync(const char *status_dir, const char *hosts_file, const char *body,
	   bool *ret_changed, struct error **err)
{
	_cleanup_free_ char *frag = xasprintf("%s/hosts", status_dir);
	_cleanup_free_ char *old = NULL, *text = NULL;
	bool changed = false;
	size_t len = 0;
	int r;

	r = mkdir_p(status_dir, 0700);
	if (r < 0)
		return error_set(err, r, "create '%s'", status_dir);
	r = write_if_changed(frag, body, &changed, err);
	if (r < 0)
		return r;
	if (hosts_file) {
		r = read_file(hosts_file, HOSTS_MAX, &old, &len);
		if (r == -ENOENT)
			old = xstrdup("");
		else if (r < 0)
			return error_set(err, r, "read '%s'", hosts_file);
		r = markblock_replace(old, body, &text);
		if (r < 0)
			return error_set(err, r,
					 "'%s': its '" MARKBLOCK_BEGIN "' block is damaged; fix or "
					 "remove it by hand",
					 hosts_file);
		r = write_if_changed(hosts_file, text, &changed, err);
		/* A hosts file mounted on its own (EBUSY: the rename would
		 * replace a mount point; EROFS: its folder is read-only) can
		 * only be rewritten in place. */
		if (r == -EBUSY || r == -EROFS) {
			*err = error_free(*err);
			r = write_in_place(hosts_file, text, err);
			if (r >= 0)
				changed = true;
		}
		if (r < 0)
			return r;
	}
	*ret_changed = changed;
	return 0;
}

/*
 * Whether the file at path may be replaced or removed by banger: missing
 * (*ret_exists false), or holding DNSMASQ_MARK as its first line.
 */
static int
dnsmasq_owned(const char *path, bool *ret_exists, char **ret_old, struct error **err)
{
	_cleanup_free_ char *old = NULL;
	size_t len = 0;
	int r;

	r = read_file(path, HOSTS_MAX, &old, &len);
	if (r == -ENOENT) {
		*ret_exists = false;
		*ret_old = NULL;
		return 0;
	}
	if (r < 0)
		return error_set(err, r, "read '%s'", path);
	if (strncmp(old, DNSMASQ_MARK, strlen(DNSMASQ_MARK)) != 0 ||
	    !strchr(":\n", old[strlen(DNSMASQ_MARK)]))
		return error_set(err, -EEXIST,
				 "'%s' was not written by banger (no '" DNSMASQ_MARK
				 "' first line); leaving it alone",
				 path);
	*ret_exists = true;
	*ret_old = TAKE_PTR(old);
	return 0;
}

/*
 * Write dir/name through dir/.name.new (a dot file: dnsmasq's inotify skips
 * it, so it never reads a half-made or stale copy), renamed into place.
 */
static int
dnsmasq_write(const char *dir, const char *name, const char *content, struct error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_free_ char *tmp = xasprintf("%s/.%s.new", dir, name);
	int r;

	r = write_file_atomic(tmp, content, strlen(content), 0644);
	if (r < 0)
		return error_set(err, r, "write '%s'", tmp);
	if (rename(tmp, path) < 0) {
		r = -errno;
		(void)unlink(tmp);
		return error_set(err, r, "rename '%s' to '%s'", tmp, path);
	}
	r = fsync_parent_dir(path);
	if (r < 0)
		return error_set(err, r, "sync '%s'", dir);
	return 0;
}

static int
dnsmasq_remove(const char *path, bool exists, bool *changed, struct error **err)
{
	if (!exists)
		return 0;
	if (unlink(path) < 0 && errno != ENOENT)
		return error_set(err, -errno, "remove '%s'", path);
	*changed = true;
	return 0;
}

int
dnsmasq_sync(const char *conf_dir, const char *body, bool *ret_changed, bool *ret_new_dropin,
	     struct error **err)
{
	_cleanup_free_ char *dropin = xasprintf("%s/" DNSMASQ_DROPIN, conf_dir);
	_cleanup_free_ char *hdir = xasprintf("%s/" DNSMASQ_HOSTS_DIR, conf_dir);
	_cleanup_free_ char *hosts = xasprintf("%s/" DNSMASQ_HOSTS_FILE, hdir);
	_cleanup_free_ char *old_dropin = NULL, *old_hosts = NULL;
	_cleanup_free_ char *want_dropin = NULL, *want_hosts = NULL;
	bool dropin_exists = false, hosts_exists = false, changed = false, created = false;
	struct stat st;
	int r;

	if (stat(conf_dir, &st) < 0)
		return error_set(err, -errno, "dnsmasq conf dir '%s'", conf_dir);
	if (!S_ISDIR(st.st_mode))
		return error_set(err, -ENOTDIR, "dnsmasq conf dir '%s'", conf_dir);
	r = dnsmasq_owned(dropin, &dropin_exists, &old_dropin, err);
	if (r < 0)
		return r;
	r = dnsmasq_owned(hosts, &hosts_exists, &old_hosts, err);
	if (r < 0)
		return r;

	if (!*body) {
		/* The drop-in first: dnsmasq must never start with a hostsdir
		 * that is about to go. */
		r = dnsmasq_remove(dropin, dropin_exists, &changed, err);
		if (r >= 0)
			r = dnsmasq_remove(hosts, hosts_exists, &changed, err);
		if (r < 0)
			return r;
		/* Only an empty folder goes: what others put there stays. */
		if (rmdir(hdir) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
			return error_set(err, -errno, "remove '%s'", hdir);
		*ret_changed = changed;
		*ret_new_dropin = false;
		return 0;
	}

	/* The folder and its file first, so the drop-in never names a
	 * folder dnsmasq cannot watch. */
	want_hosts = xasprintf(DNSMASQ_MARK ": the guests' names, for dnsmasq (%s); "
			       "rewritten on every reconcile\n%s",
			       DNSMASQ_DROPIN, body);
	/* dnsmasq reads it as an unprivileged user: 0755 whatever the umask
	 * (the systemd unit's is 0077). */
	if (mkdir(hdir, 0755) == 0) {
		if (chmod(hdir, 0755) < 0)
			return error_set(err, -errno, "chmod '%s'", hdir);
	} else if (errno != EEXIST)
		return error_set(err, -errno, "create '%s'", hdir);
	if (!hosts_exists || strcmp(old_hosts, want_hosts) != 0) {
		r = dnsmasq_write(hdir, DNSMASQ_HOSTS_FILE, want_hosts, err);
		if (r < 0)
			return r;
		changed = true;
	}
	want_dropin = xasprintf(DNSMASQ_MARK ": the guests' names (banger(8), GUEST NAMES); "
				"removed when no VM is left\n"
				"hostsdir=%s\n",
				hdir);
	if (!dropin_exists || strcmp(old_dropin, want_dropin) != 0) {
		r = dnsmasq_write(conf_dir, DNSMASQ_DROPIN, want_dropin, err);
		if (r < 0)
			return r;
		changed = true;
		created = !dropin_exists;
	}
	*ret_changed = changed;
	*ret_new_dropin = created;
	return 0;
}
