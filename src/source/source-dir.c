/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Declaration files from a plain directory.  Reads host.yaml and the *.yaml
 * files of every direct subdirectory of the state root, refusing oversized
 * files and directories and never following a symbolic link out of the root.
 * Knows nothing of YAML: the spec layer decides what the files mean.
 */
#include "config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/source.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

static void
closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

struct source *
source_free(struct source *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_files; i++) {
		free(s->files[i].path);
		free(s->files[i].data);
	}
	free(s->files);
	strv_free(s->unread);
	free(s->root);
	free(s->commit);
	free(s);
	return NULL;
}

/* Is the canonical path p the root itself or inside it? */
static bool
path_inside(const char *root, const char *p)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(root, p, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/*
 * Read a regular file without blocking on FIFOs or devices.  -EFBIG when it
 * is over SOURCE_FILE_MAX, -EINVAL when it is not a regular file, -EPERM
 * when, read as root, anyone may change it: as its folder (cli's
 * state_dir_check), a declaration names what banger runs as root.
 */
static int
read_regular(int dirfd, const char *name, int flags, bool root, char **ret_data, size_t *ret_len)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *data = NULL;
	mode_t mode = 0;
	int r;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags);
	if (fd < 0)
		return -errno;
	r = read_fd_regular_mode(fd, SOURCE_FILE_MAX, &data, ret_len, &mode);
	if (S_ISREG(mode) && (mode & S_IWOTH) && root)
		return -EPERM;
	if (r < 0)
		return r;
	*ret_data = TAKE_PTR(data);
	return 0;
}

static void
add_file(struct source *s, const char *rel, int dirfd, const char *name, const char *real_root,
	 bool root)
{
	struct source_file *f;
	struct stat st;
	int r;

	s->files = xappend(s->files, &s->n_files, sizeof(*s->files), (void **)&f);
	f->path = xstrdup(rel);
	/* Most entries are regular files: read them straight away; a symlink
	 * refuses O_NOFOLLOW with ELOOP and is looked at below. */
	r = read_regular(dirfd, name, O_NOFOLLOW, root, &f->data, &f->len);
	if (r != -ELOOP) {
		if (r < 0)
			f->read_error = r;
		return;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		f->read_error = -errno;
		return;
	}
	if (S_ISLNK(st.st_mode)) {
		_cleanup_free_ char *target = NULL;
		_cleanup_free_ char *full = xasprintf("%s/%s", real_root, rel);

		target = realpath(full, NULL);
		if (!target) {
			f->read_error = -errno;
			return;
		}
		if (!path_inside(real_root, target)) {
			f->read_error = -EXDEV;
			return;
		}
		r = read_regular(AT_FDCWD, target, 0, root, &f->data, &f->len);
	} else
		r = -ELOOP;
	if (r < 0)
		f->read_error = r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct source_file *)a)->path, ((const struct source_file *)b)->path);
}

/*
 * List a directory's entry names, sorted, refusing more than
 * SOURCE_DIR_MAX_ENTRIES.  Hidden entries are skipped (but counted).
 */
static int
list_dir(int dirfd, const char *shown, char ***ret, struct error **err)
{
	_cleanup_(closedirp) DIR *d = NULL;
	_cleanup_strv_free_ char **names = NULL;
	size_t count = 0, n = 0;
	int fd;

	fd = dup(dirfd);
	if (fd < 0)
		return error_set(err, -errno, "directory '%s': %s", shown, strerror(errno));
	d = fdopendir(fd);
	if (!d) {
		int r = -errno;

		(void)close(fd);
		return error_set(err, r, "directory '%s': %s", shown, strerror(-r));
	}
	rewinddir(d);
	for (;;) {
		struct dirent *de;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				return error_set(err, -errno, "directory '%s': %s", shown,
						 strerror(errno));
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (++count > SOURCE_DIR_MAX_ENTRIES)
			return error_set(err, -E2BIG,
					 "directory '%s' holds more than %d entries, refusing to read it",
					 shown, SOURCE_DIR_MAX_ENTRIES);
		if (de->d_name[0] == '.')
			continue;
		names = strv_push(names, &n, de->d_name);
	}
	if (n > 1)
		qsort(names, n, sizeof(char *), cmp_str);
	*ret = TAKE_PTR(names);
	return 0;
}

/*
 * Open a subdirectory of the root; a symbolic link is followed only when it
 * stays inside the root.  Returns the fd, 0 when the entry is no directory
 * (so it is ignored), or -errno with err set.
 */
static int
open_subdir(int rootfd, const char *root, const char *real_root, const char *name,
	    struct error **err)
{
	struct stat st;
	int fd;

	if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return error_set(err, -errno, "'%s/%s': %s", root, name, strerror(errno));
	if (S_ISLNK(st.st_mode)) {
		_cleanup_free_ char *full = xasprintf("%s/%s", real_root, name);
		_cleanup_free_ char *target = realpath(full, NULL);

		if (!target)
			return 0; /* dangling: nothing to read */
		if (stat(target, &st) < 0 || !S_ISDIR(st.st_mode))
			return 0;
		if (!path_inside(real_root, target))
			return error_set(err, -EXDEV,
					 "'%s/%s' is a symbolic link out of the state directory, "
					 "refusing to follow it",
					 root, name);
		fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		if (!S_ISDIR(st.st_mode))
			return 0;
		fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return error_set(err, -errno, "'%s/%s': %s", root, name, strerror(errno));
	return fd;
}

/*
 * The YAML-looking entries under the sub-folder rel of a kind folder (a real
 * folder, never a link), as unread, SOURCE_UNREAD_DEPTH folders deep at most.
 * A best-effort list: a folder that cannot be read, and what lies past
 * *budget entries in all, are passed over.
 */
static void
list_unread(int parent, const char *name, const char *rel, unsigned depth, size_t *budget,
	    struct source *s)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	int fd;

	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return;
	}
	while (*budget && (de = readdir(d))) {
		_cleanup_free_ char *child = NULL;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		(*budget)--;
		child = xasprintf("%s/%s", rel, de->d_name);
		if (source_name_looks_yaml(de->d_name))
			s->unread = strv_append(s->unread, child);
		else if (depth < SOURCE_UNREAD_DEPTH &&
			 (de->d_type == DT_DIR ||
			  (de->d_type == DT_UNKNOWN &&
			   fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			   S_ISDIR(st.st_mode))))
			list_unread(dirfd(d), de->d_name, child, depth + 1, budget, s);
	}
}

int
source_dir_read(const char *root, struct source **ret, struct error **err)
{
	_cleanup_(source_freep) struct source *s = NULL;
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ char *real_root = NULL;
	_cleanup_close_ int rootfd = -EBADF;
	size_t budget = SOURCE_DIR_MAX_ENTRIES;	/* of the unread listing */
	bool as_root = geteuid() == 0;
	struct stat st;
	int r;

	assert(root);
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return error_set(err, -errno, "state directory '%s': %s", root, strerror(errno));
	real_root = realpath(root, NULL);
	if (!real_root)
		return error_set(err, -errno, "state directory '%s': %s", root, strerror(errno));

	s = xcalloc(1, sizeof(*s));
	s->root = xstrdup(root);

	r = list_dir(rootfd, root, &names, err);
	if (r < 0)
		return r;
	for (size_t i = 0; names && names[i]; i++) {
		const char *name = names[i];
		_cleanup_strv_free_ char **sub = NULL;
		_cleanup_close_ int fd = -EBADF;
		_cleanup_free_ char *shown = NULL;

		if (strcmp(name, "host.yaml") == 0) {
			add_file(s, name, rootfd, name, real_root, as_root);
			continue;
		}
		if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return error_set(err, -errno, "'%s/%s': %s", root, name, strerror(errno));
		if (!S_ISDIR(st.st_mode) && source_name_looks_yaml(name)) {
			/* Other files at the top are not declarations. */
			s->unread = strv_append(s->unread, name);
			continue;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
			continue;
		r = open_subdir(rootfd, root, real_root, name, err);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		fd = r;
		shown = xasprintf("%s/%s", root, name);
		r = list_dir(fd, shown, &sub, err);
		if (r < 0)
			return r;
		for (size_t j = 0; sub && sub[j]; j++) {
			_cleanup_free_ char *rel = xasprintf("%s/%s", name, sub[j]);

			if (source_name_is_yaml(sub[j]))
				add_file(s, rel, fd, sub[j], real_root, as_root);
			else if (!source_folder_is_kind(name))
				continue;
			else if (source_name_looks_yaml(sub[j]))
				s->unread = strv_append(s->unread, rel);
			else if (fstatat(fd, sub[j], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				 S_ISDIR(st.st_mode))
				list_unread(fd, sub[j], rel, 1, &budget, s);
		}
	}
	if (s->n_files > 1)
		qsort(s->files, s->n_files, sizeof(*s->files), cmp_file);
	if (s->unread)
		qsort(s->unread, strv_length(s->unread), sizeof(char *), cmp_str);
	*ret = TAKE_PTR(s);
	return 0;
}
