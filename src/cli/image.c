/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger image import NAME --kernel K --rootfs R [--initrd I] [--force]:
 * copy an image's files into STATUS_DIR/images/NAME/, pin their sha256 and
 * declare the image in STATE_DIR/images/NAME.yaml (written atomically).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "source/git.h"
#include "drivers/disk-internal.h"
#include "drivers/image-pin.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/sha256.h"

enum {
	OPT_KERNEL = CLI_OPT_FIRST_PRIVATE,
	OPT_ROOTFS,
	OPT_INITRD,
	OPT_FORCE,
};

struct import_args {
	const char *name;
	const char *files[3];	/* kernel, rootfs, initrd (NULL: none) */
	bool force;
};

static const char *const file_keys[3] = { "kernel", "rootfs", "initrd" };

static void
image_help(FILE *f)
{
	fputs("Usage: banger image import NAME --kernel FILE --rootfs FILE [--initrd FILE]\n"
	      "                           [--force] [--state DIR] [--status-dir DIR]\n"
	      "\n"
	      "Copy an image's files into STATUS_DIR/images/NAME/, compute their sha256\n"
	      "pins and write STATE_DIR/images/NAME.yaml declaring them.\n"
	      "\n"
	      "      --kernel FILE      the guest kernel (required)\n"
	      "      --rootfs FILE      the root filesystem image (required)\n"
	      "      --initrd FILE      an initial ramdisk\n"
	      "      --force            replace an existing images/NAME.yaml\n",
	      f);
	cli_common_help(f, true);
}

/* A YAML double-quoted scalar; -EINVAL for control characters. */
static int
yaml_quote(const char *s, char **ret)
{
	size_t n = 0;
	char *out = xmalloc(strlen(s) * 2 + 3);

	out[n++] = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c < 0x20 || *c == 0x7f) {
			free(out);
			return -EINVAL;
		}
		if (*c == '"' || *c == '\\')
			out[n++] = '\\';
		out[n++] = (char)*c;
	}
	out[n++] = '"';
	out[n] = '\0';
	*ret = out;
	return 0;
}

/* Whether s is valid UTF-8 (declarations must be). */
static bool
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned n, lo = 0x80, hi = 0xbf;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 1;
		else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2;
			lo = *p == 0xe0 ? 0xa0 : 0x80;
			hi = *p == 0xed ? 0x9f : 0xbf;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3;
			lo = *p == 0xf0 ? 0x90 : 0x80;
			hi = *p == 0xf4 ? 0x8f : 0xbf;
		} else
			return false;
		p++;
		for (unsigned i = 0; i < n; i++, p++) {
			if (*p < (i ? 0x80 : lo) || *p > (i ? 0xbf : hi))
				return false;
		}
	}
	return true;
}

/* dir made (mode for what is made) and resolved; caller frees *ret. */
static int
absolute_dir(const char *dir, mode_t mode, char **ret, struct error **err)
{
	char *abs;
	int r;

	r = mkdir_p(dir, mode);
	if (r < 0)
		return error_set(err, r, "create '%s': %s", dir, strerror(-r));
	abs = realpath(dir, NULL);
	if (!abs)
		return error_set(err, -errno, "resolve '%s': %s", dir, strerror(errno));
	*ret = abs;
	return 0;
}

/* Remove what path holds (a file, or a folder of files); best effort. */
static void
remove_entry(const char *path)
{
	DIR *d;
	struct dirent *de;

	if (unlink(path) == 0 || errno != EISDIR)
		return;
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			(void)unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	(void)rmdir(path);
}

/*
 * 1. check the name, the sources and the state directory;
 * 2. copy each file into a new folder STATUS_DIR/images/NAME/.import-XXXXXX
 *    and hash the copies through the pin cache (so later checks do not
 *    rehash);
 * 3. rename that folder to one named by the files' digests, and write
 *    images/NAME.yaml, naming the files in it, atomically;
 * 4. remove what else STATUS_DIR/images/NAME holds (the files of an import
 *    before, a failed one's folder).
 * Until the declaration is written, the image declared before and its files
 * are as they were: a failed or killed import (a full disk, an unreadable
 * source) loses nothing, and its folder goes at the next import.
 */
static int
image_import(const struct cli_common *c, const struct import_args *a, char **ret_yaml,
	     struct error **err)
{
	_cleanup_free_ char *state = NULL, *status_opt = NULL, *status = NULL, *decl_dir = NULL,
			    *decl = NULL, *img_dir = NULL, *tmp = NULL, *ver = NULL, *text = NULL;
	_cleanup_(image_pins_freep) struct image_pins *pins = NULL;
	char *dest[3] = { NULL, NULL, NULL };
	char hex[3][SHA256_HEX_SIZE];
	mode_t modes[3] = { 0600, 0600, 0600 };
	struct stat st;
	int r;

	if (!name_is_dns_label(a->name))
		return error_set(err, -EINVAL, "image name '%s' is not a DNS label", a->name);
	for (size_t i = 0; i < 3; i++) {
		if (!a->files[i])
			continue;
		if (stat(a->files[i], &st) < 0)
			return error_set(err, -errno, "%s '%s': %s", file_keys[i], a->files[i],
					 strerror(errno));
		if (!S_ISREG(st.st_mode))
			return error_set(err, -EINVAL, "%s '%s' is not a regular file", file_keys[i],
					 a->files[i]);
		/* Empty, or a file that says so though it is not (/proc). */
		if (st.st_size == 0)
			return error_set(err, -EINVAL, "%s '%s' is empty", file_keys[i], a->files[i]);
		/* Never wider than the source: a private image stays private. */
		modes[i] = (st.st_mode & 0644) | 0600;
	}
	if (source_git_is_repository(c->state_dir)) {
		_cleanup_free_ char *dotgit = xasprintf("%s/.git", c->state_dir);

		if (access(dotgit, F_OK) < 0)
			return error_set(err, -EINVAL,
					 "'%s' is a bare git repository: import into a clone's work "
					 "tree and commit images/%s.yaml there",
					 c->state_dir, a->name);
	}
	r = cli_resolve_dirs(c, &status_opt, NULL, err);
	if (r < 0)
		return r;
	r = absolute_dir(c->state_dir, 0755, &state, err);
	if (r < 0)
		return r;
	r = absolute_dir(status_opt, 0700, &status, err);
	if (r < 0)
		return r;
	decl_dir = xasprintf("%s/images", state);
	decl = xasprintf("%s/%s.yaml", decl_dir, a->name);
	if (!a->force && access(decl, F_OK) == 0)
		return error_set(err, -EEXIST, "already declared in '%s' (--force replaces it)",
				 decl);
	if (!utf8_valid(status) || !utf8_valid(decl))
		return error_set(err, -EINVAL,
				 "'%s' or '%s' is not valid UTF-8: a declaration cannot name it",
				 status, decl);

	img_dir = xasprintf("%s/images/%s", status, a->name);
	r = mkdir_p(img_dir, 0700);
	if (r < 0)
		return error_set(err, r, "create '%s': %s", img_dir, strerror(-r));
	tmp = xasprintf("%s/.import-XXXXXX", img_dir);
	if (!mkdtemp(tmp))
		return error_set(err, -errno, "create a folder in '%s': %s", img_dir,
				 strerror(errno));
	r = image_pins_open(status, &pins, err);
	for (size_t i = 0; i < 3 && r >= 0; i++) {
		if (!a->files[i])
			continue;
		dest[i] = xasprintf("%s/%s", tmp, file_keys[i]);
		r = disk_sparse_copy(a->files[i], dest[i], modes[i], err);
		if (r >= 0)
			r = image_pins_digest(pins, dest[i], hex[i], err);
	}
	/* The folder is named by what it holds: the first 16 hex digits of
	 * the sha256 of the files' digests. */
	if (r >= 0) {
		struct sha256_ctx h;
		uint8_t d[SHA256_DIGEST_SIZE];
		char dh[SHA256_HEX_SIZE];

		sha256_init(&h);
		for (size_t i = 0; i < 3; i++) {
			sha256_update(&h, file_keys[i], strlen(file_keys[i]) + 1);
			if (dest[i])
				sha256_update(&h, hex[i], strlen(hex[i]) + 1);
		}
		sha256_final(&h, d);
		sha256_hex(d, dh);
		ver = xasprintf("%s/v-%.16s", img_dir, dh);
		if (rename(tmp, ver) < 0) {
			/* The same files imported before: that folder serves. */
			if (errno == EEXIST || errno == ENOTEMPTY)
				remove_entry(tmp);
			else
				r = error_set(err, -errno, "rename '%s': %s", tmp, strerror(errno));
		}
		free(tmp);
		tmp = NULL;
		if (r >= 0) {
			_cleanup_free_ char *inside = xasprintf("%s/kernel", ver);

			/* The names in the folder, then the folder's own name. */
			r = fsync_parent_dir(inside);
			if (r >= 0)
				r = fsync_parent_dir(ver);
			if (r < 0)
				(void)error_set(err, r, "sync '%s': %s", ver, strerror(-r));
		}
	}
	if (r >= 0)
		r = image_pins_save(pins, err);

	text = xstrdup("# Imported by 'banger image import'.\n");
	for (size_t i = 0; i < 3 && r >= 0; i++) {
		_cleanup_free_ char *q = NULL, *path = NULL;
		char *t;

		if (!dest[i])
			continue;
		path = xasprintf("%s/%s", ver, file_keys[i]);
		if (yaml_quote(path, &q) < 0) {
			r = error_set(err, -EINVAL, "path '%s' has control characters", path);
			break;
		}
		t = xasprintf("%s%s: %s\n", text, file_keys[i], q);
		free(text);
		text = t;
	}
	if (r >= 0) {
		char *t = xasprintf("%ssha256:\n", text);

		free(text);
		text = t;
		for (size_t i = 0; i < 3; i++) {
			if (!dest[i])
				continue;
			t = xasprintf("%s  %s: \"%s\"\n", text, file_keys[i], hex[i]);
			free(text);
			text = t;
		}
		r = mkdir_p(decl_dir, 0755);
		if (r < 0)
			(void)error_set(err, r, "create '%s': %s", decl_dir, strerror(-r));
	}
	if (r >= 0) {
		r = write_file_atomic(decl, text, strlen(text), 0644);
		if (r < 0)
			(void)error_set(err, r, "write '%s': %s", decl, strerror(-r));
	}
	for (size_t i = 0; i < 3; i++)
		free(dest[i]);
	if (tmp)
		remove_entry(tmp);
	if (r < 0)
		return r;
	/* Declared: what else the image's folder holds is an earlier import's. */
	{
		DIR *d = opendir(img_dir);
		struct dirent *de;
		const char *keep = strrchr(ver, '/') + 1;

		while (d && (de = readdir(d))) {
			_cleanup_free_ char *p = NULL;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
			    strcmp(de->d_name, keep) == 0)
				continue;
			p = xasprintf("%s/%s", img_dir, de->d_name);
			remove_entry(p);
		}
		if (d)
			closedir(d);
	}
	*ret_yaml = TAKE_PTR(decl);
	return 0;
}

int
cli_image(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_LONGOPTS,
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "rootfs", required_argument, NULL, OPT_ROOTFS },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common c;
	struct import_args a = { 0 };
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_free_ char *yaml = NULL;
	int opt;

	cli_common_init(&c);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		image_help(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "import") != 0) {
		if (argc >= 2)
			cli_errorf("unknown image command '%s'", argv[1]);
		image_help(stderr);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (cli_common_option(&c, opt, optarg))
			continue;
		switch (opt) {
		case OPT_KERNEL:
			a.files[0] = optarg;
			break;
		case OPT_ROOTFS:
			a.files[1] = optarg;
			break;
		case OPT_INITRD:
			a.files[2] = optarg;
			break;
		case OPT_FORCE:
			a.force = true;
			break;
		case 'h':
		case CLI_OPT_HELP:
			image_help(stdout);
			return 0;
		default:
			cli_errorf("image import: unknown or incomplete option '%s'; see 'banger "
				   "image import --help'",
				   argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !a.files[0] || !a.files[1]) {
		cli_errorf("image import needs NAME, --kernel and --rootfs");
		return EXIT_USAGE;
	}
	a.name = argv[optind];
	if (image_import(&c, &a, &yaml, &err) < 0) {
		(void)error_prefix(&err, "image '%s'", a.name);
		cli_report(err);
		return EXIT_FAILED;
	}
	if (c.json) {
		json_t *o = json_pack("{s:s, s:s}", "image", a.name, "declaration", yaml);

		if (!o) {
			/* Checked before writing; a path that is no JSON string
			 * still must not print a bare newline as if all went well. */
			cli_errorf("image '%s': '%s' cannot be written as JSON (not UTF-8)", a.name,
				   yaml);
			return EXIT_FAILED;
		}
		(void)json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	} else
		printf("imported image '%s': %s\n", a.name, yaml);
	/* plan and reconcile read a repository's commits, not its work tree. */
	if (source_git_is_repository(c.state_dir))
		fprintf(stderr, "banger: note: '%s' is a git repository: commit images/%s.yaml "
				"for plan and reconcile to read it\n",
			c.state_dir, a.name);
	return 0;
}
