/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger image import NAME --kernel K --rootfs R [--initrd I] [--force]:
 * copy an image's files into STATUS_DIR/images/NAME/, pin their sha256 and
 * declare the image in STATE_DIR/images/NAME.yaml (written atomically).
 */
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

static int
absolute_dir(const char *dir, char **ret, struct error **err)
{
	char *abs;
	int r;

	r = mkdir_p(dir, 0755);
	if (r < 0)
		return error_set(err, r, "create '%s': %s", dir, strerror(-r));
	abs = realpath(dir, NULL);
	if (!abs)
		return error_set(err, -errno, "resolve '%s': %s", dir, strerror(errno));
	*ret = abs;
	return 0;
}

/*
 * 1. check the name, the sources and the existing declaration;
 * 2. copy each file to STATUS_DIR/images/NAME/{kernel,rootfs,initrd};
 * 3. hash the copies through the pin cache (so later checks do not rehash);
 * 4. write images/NAME.yaml atomically.
 */
static int
image_import(const struct cli_common *c, const struct import_args *a, char **ret_yaml,
	     struct error **err)
{
	_cleanup_free_ char *state = NULL, *status = NULL, *decl_dir = NULL, *decl = NULL,
			    *img_dir = NULL, *text = NULL;
	_cleanup_(image_pins_freep) struct image_pins *pins = NULL;
	char *dest[3] = { NULL, NULL, NULL };
	char hex[3][SHA256_HEX_SIZE];
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
	}
	r = absolute_dir(c->state_dir, &state, err);
	if (r < 0)
		return r;
	r = absolute_dir(c->status_dir ? c->status_dir : DEFAULT_STATUS_DIR, &status, err);
	if (r < 0)
		return r;
	decl_dir = xasprintf("%s/images", state);
	decl = xasprintf("%s/%s.yaml", decl_dir, a->name);
	if (!a->force && access(decl, F_OK) == 0)
		return error_set(err, -EEXIST, "already declared in '%s' (--force replaces it)",
				 decl);

	img_dir = xasprintf("%s/images/%s", status, a->name);
	r = mkdir_p(img_dir, 0755);
	if (r < 0)
		return error_set(err, r, "create '%s': %s", img_dir, strerror(-r));
	r = image_pins_open(status, &pins, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < 3 && r >= 0; i++) {
		if (!a->files[i])
			continue;
		dest[i] = xasprintf("%s/%s", img_dir, file_keys[i]);
		r = disk_sparse_copy(a->files[i], dest[i], 0644, err);
		if (r >= 0)
			r = image_pins_digest(pins, dest[i], hex[i], err);
	}
	if (r >= 0)
		r = image_pins_save(pins, err);

	text = xstrdup("# Imported by 'banger image import'.\n");
	for (size_t i = 0; i < 3 && r >= 0; i++) {
		_cleanup_free_ char *q = NULL;
		char *t;

		if (!dest[i])
			continue;
		if (yaml_quote(dest[i], &q) < 0) {
			r = error_set(err, -EINVAL, "path '%s' has control characters", dest[i]);
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
	if (r < 0)
		return r;
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
			image_help(stderr);
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
