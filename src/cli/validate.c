/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger validate: read and check every declaration of the state directory,
 * print every problem, then list what is declared.  Touches nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "source/source.h"
#include "spec/spec.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"
#include "util/strv.h"

enum {
	OPT_QUIET = CLI_OPT_FIRST_PRIVATE,
};

static void
help(FILE *f)
{
	fputs("Usage: banger validate [--state DIR] [--json] [--quiet]\n"
	      "\n"
	      "Check every declaration (host.yaml, images/, vms/, filesyncs/) and print\n"
	      "each problem as FILE:LINE:COLUMN: MESSAGE on standard error.  When all is\n"
	      "valid, list what is declared.  Changes nothing on the host.\n"
	      "\n"
	      "Options:\n"
	      "  -q, --quiet            print problems only, no listing\n",
	      f);
	cli_source_help(f);
	cli_common_help(f, true);
	fputs("\nExit status: 0 valid, 1 invalid or unreadable, 64 usage error.\n", f);
}

static void
json_decref_p(json_t **j)
{
	if (*j)
		json_decref(*j);
}

/* A JSON string even when s is not UTF-8 (a hostile file name): bad bytes become '?'. */
static json_t *
jstr(const char *s)
{
	_cleanup_free_ char *copy = NULL;
	json_t *j;

	if (!s)
		return json_null();
	j = json_string(s);
	if (j)
		return j;
	copy = xstrdup(s);
	for (unsigned char *p = (unsigned char *)copy; *p; p++)
		if (*p >= 0x80)
			*p = '?';
	return json_string(copy);
}

static json_t *
vm_json(const struct vm_spec *vm)
{
	json_t *o = json_object(), *fs = json_array(), *keys = json_array();
	char ip[16];

	json_object_set_new(o, "name", json_string(vm->name));
	json_object_set_new(o, "file", json_string(vm->path));
	json_object_set_new(o, "image", json_string(vm->image));
	json_object_set_new(o, "state", json_string(vm_state_to_string(vm->state)));
	json_object_set_new(o, "vcpus", json_integer(vm->vcpus));
	json_object_set_new(o, "memory", json_integer((json_int_t)vm->memory));
	json_object_set_new(o, "hypervisor", json_string(hypervisor_kind_to_string(vm->hypervisor)));
	json_object_set_new(o, "system_overlay", json_integer((json_int_t)vm->system_overlay));
	json_object_set_new(o, "work_disk", json_integer((json_int_t)vm->work_disk));
	json_object_set_new(o, "nat", json_boolean(vm->nat));
	if (vm->has_ip) {
		ipv4_format(vm->ip, ip);
		json_object_set_new(o, "ip", json_string(ip));
	} else
		json_object_set_new(o, "ip", json_null());
	if (vm->has_mac) {
		char mac[18];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", vm->mac[0], vm->mac[1],
			 vm->mac[2], vm->mac[3], vm->mac[4], vm->mac[5]);
		json_object_set_new(o, "mac", json_string(mac));
	} else
		json_object_set_new(o, "mac", json_null());
	for (size_t i = 0; vm->filesyncs && vm->filesyncs[i]; i++)
		json_array_append_new(fs, json_string(vm->filesyncs[i]));
	json_object_set_new(o, "filesyncs", fs);
	for (size_t i = 0; vm->ssh_authorized_keys && vm->ssh_authorized_keys[i]; i++)
		json_array_append_new(keys, json_string(vm->ssh_authorized_keys[i]));
	json_object_set_new(o, "ssh_authorized_keys", keys);
	json_object_set_new(o, "kernel_args", vm->kernel_args ? json_string(vm->kernel_args)
							       : json_null());
	json_object_set_new(o, "on_delete", json_string(on_delete_to_string(vm->on_delete)));
	json_object_set_new(o, "host", vm->host ? json_string(vm->host) : json_null());
	if (vm->workspace.repo)
		json_object_set_new(
			o, "workspace",
			json_pack("{s:s, s:o, s:s, s:s}", "repo", vm->workspace.repo, "ref",
				  vm->workspace.ref ? json_string(vm->workspace.ref) : json_null(),
				  "path", vm->workspace.path, "mode",
				  workspace_mode_to_string(vm->workspace.mode)));
	else
		json_object_set_new(o, "workspace", json_null());
	json_object_set_new(o, "generation", json_string(vm->generation));
	return o;
}

static json_t *
spec_json(const struct spec *s, const char *root)
{
	json_t *o = json_object(), *diags = json_array(), *held = json_array();
	json_t *images = json_array(), *vms = json_array(), *fss = json_array();
	json_t *host = json_object(), *dns = json_array();
	char buf[16];

	json_object_set_new(o, "valid", json_boolean(s->n_diags == 0));
	json_object_set_new(o, "state_dir", jstr(root));
	for (size_t i = 0; i < s->n_diags; i++) {
		const struct spec_diag *d = &s->diags[i];
		json_t *j = json_object();
		_cleanup_free_ char *text = spec_diag_format(d, root);

		json_object_set_new(j, "file", jstr(d->file));
		json_object_set_new(j, "line", json_integer(d->line));
		json_object_set_new(j, "column", json_integer(d->col));
		json_object_set_new(j, "message", jstr(d->msg));
		json_object_set_new(j, "text", jstr(text));
		json_array_append_new(diags, j);
	}
	json_object_set_new(o, "diagnostics", diags);
	json_object_set_new(host, "valid", json_boolean(s->host_valid));
	json_object_set_new(host, "file", s->host.path ? json_string(s->host.path) : json_null());
	json_object_set_new(host, "bridge", json_string(s->host.bridge_name));
	ipv4_format(s->host.bridge_addr, buf);
	json_object_set_new(host, "address", json_sprintf("%s/%u", buf, s->host.bridge_prefix));
	json_object_set_new(host, "uplink", json_string(s->host.uplink));
	for (size_t i = 0; i < s->host.n_dns; i++) {
		ipv4_format(s->host.dns[i], buf);
		json_array_append_new(dns, json_string(buf));
	}
	json_object_set_new(host, "dns", dns);
	json_object_set_new(host, "hypervisor",
			    json_string(hypervisor_kind_to_string(s->host.hypervisor)));
	json_object_set_new(host, "disk_strategy",
			    json_string(disk_strategy_to_string(s->host.disk_strategy)));
	json_object_set_new(o, "host", host);
	for (size_t i = 0; i < s->n_images; i++) {
		const struct image_spec *im = &s->images[i];
		json_t *j = json_object();

		json_object_set_new(j, "name", json_string(im->name));
		json_object_set_new(j, "file", json_string(im->path));
		json_object_set_new(j, "kernel", json_string(im->kernel));
		json_object_set_new(j, "rootfs", json_string(im->rootfs));
		json_object_set_new(j, "initrd", im->initrd ? json_string(im->initrd) : json_null());
		json_object_set_new(j, "kernel_args",
				    im->kernel_args ? json_string(im->kernel_args) : json_null());
		json_array_append_new(images, j);
	}
	json_object_set_new(o, "images", images);
	for (size_t i = 0; i < s->n_vms; i++)
		json_array_append_new(vms, vm_json(&s->vms[i]));
	json_object_set_new(o, "vms", vms);
	for (size_t i = 0; i < s->n_filesyncs; i++) {
		const struct filesync_spec *f = &s->filesyncs[i];
		json_t *j = json_object(), *entries = json_array();

		json_object_set_new(j, "name", json_string(f->name));
		json_object_set_new(j, "file", json_string(f->path));
		for (size_t k = 0; k < f->n_entries; k++) {
			json_t *e = json_object();

			json_object_set_new(e, "host", json_string(f->entries[k].host));
			json_object_set_new(e, "guest", json_string(f->entries[k].guest));
			if (f->entries[k].mode >= 0)
				json_object_set_new(e, "mode", json_sprintf("%04o", f->entries[k].mode));
			json_array_append_new(entries, e);
		}
		json_object_set_new(j, "entries", entries);
		json_array_append_new(fss, j);
	}
	json_object_set_new(o, "filesyncs", fss);
	for (size_t i = 0; s->held_vms && s->held_vms[i]; i++)
		json_array_append_new(held, json_string(s->held_vms[i]));
	json_object_set_new(o, "held_vms", held);
	return o;
}

static int
name_width(int w, const char *name)
{
	int n = (int)strlen(name);

	return n > w ? n : w;
}

static void
print_listing(const struct spec *s)
{
	char buf[16];
	int nw = 20;	/* the name column: as wide as the longest name */

	for (size_t i = 0; i < s->n_images; i++)
		nw = name_width(nw, s->images[i].name);
	for (size_t i = 0; i < s->n_filesyncs; i++)
		nw = name_width(nw, s->filesyncs[i].name);
	for (size_t i = 0; i < s->n_vms; i++)
		nw = name_width(nw, s->vms[i].name);
	printf("%-9s %-*s %s\n", "KIND", nw, "NAME", "DETAILS");
	ipv4_format(s->host.bridge_addr, buf);
	printf("%-9s %-*s bridge=%s address=%s/%u hypervisor=%s disk_strategy=%s%s\n", "host",
	       nw, "-", s->host.bridge_name, buf, s->host.bridge_prefix,
	       hypervisor_kind_to_string(s->host.hypervisor),
	       disk_strategy_to_string(s->host.disk_strategy),
	       s->host.path ? "" : " (defaults, no host.yaml)");
	for (size_t i = 0; i < s->n_images; i++) {
		const struct image_spec *im = &s->images[i];

		printf("%-9s %-*s kernel=%s rootfs=%s%s%s\n", "image", nw, im->name, im->kernel,
		       im->rootfs, im->initrd ? " initrd=" : "", im->initrd ? im->initrd : "");
	}
	for (size_t i = 0; i < s->n_filesyncs; i++) {
		const struct filesync_spec *f = &s->filesyncs[i];

		printf("%-9s %-*s entries=%zu\n", "filesync", nw, f->name, f->n_entries);
	}
	for (size_t i = 0; i < s->n_vms; i++) {
		const struct vm_spec *vm = &s->vms[i];
		_cleanup_free_ char *mem = spec_format_size(vm->memory);
		_cleanup_free_ char *work = spec_format_size(vm->work_disk);

		if (vm->has_ip)
			ipv4_format(vm->ip, buf);
		else
			strcpy(buf, "auto");
		printf("%-9s %-*s image=%s state=%s vcpus=%u memory=%s work=%s ip=%s hypervisor=%s\n",
		       "vm", nw, vm->name, vm->image, vm_state_to_string(vm->state), vm->vcpus, mem,
		       work, buf, hypervisor_kind_to_string(vm->hypervisor));
	}
}

int
cli_validate(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		CLI_SOURCE_LONGOPTS,
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{},
	};
	_cleanup_(source_freep) struct source *src = NULL;
	_cleanup_(spec_freep) struct spec *s = NULL;
	_cleanup_(error_freep) struct error *err = NULL;
	struct cli_common common;
	bool quiet = false;
	int c, r;

	cli_common_init(&common);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
		if (cli_common_option(&common, c, optarg))
			continue;
		switch (c) {
		case 'h':
		case CLI_OPT_HELP:
			help(stdout);
			return EXIT_CONVERGED;
		case 'q':
		case OPT_QUIET:
			quiet = true;
			break;
		default:
			if (optopt && optopt < 0x100)
				cli_errorf("validate: unknown option '-%c'; see 'banger validate --help'",
					   optopt);
			else
				cli_errorf("validate: unknown or incomplete option '%s'; see 'banger "
					   "validate --help'",
					   argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_errorf("validate: unexpected argument '%s'; see 'banger validate --help'",
			   argv[optind]);
		return EXIT_USAGE;
	}

	r = cli_source_read(&common, &src, &err);
	if (r >= 0)
		r = spec_load(src, &s, &err);
	if (r < 0) {
		if (common.json) {
			_cleanup_free_ char *msg = error_format(err);
			json_t *o = json_object();

			json_object_set_new(o, "valid", json_false());
			json_object_set_new(o, "state_dir", jstr(common.state_dir));
			json_object_set_new(o, "error", jstr(msg));
			json_dumpf(o, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
			json_decref(o);
		}
		cli_report(err);
		return EXIT_FAILED;
	}

	/* What was read, when it is not simply the files of the folder. */
	if (!common.json && !quiet && src->commit)
		fprintf(stderr, "banger: note: validated commit %.12s of '%s' (uncommitted edits "
				"are not read; --worktree reads them)\n",
			src->commit, common.state_dir);
	if (!common.json && !quiet && s->host.source_git)
		fprintf(stderr, "banger: note: host.yaml names the git source '%s': plan and "
				"reconcile read that repository, not these files\n",
			s->host.source_git);
	for (size_t i = 0; i < s->n_diags; i++) {
		_cleanup_free_ char *line = spec_diag_format(&s->diags[i], common.state_dir);

		if (!common.json)
			fprintf(stderr, "%s\n", line);
	}
	/* An image's files are the host's, not the declarations': missing
	 * here (a CI machine, say) is a note, not an error. */
	for (size_t i = 0; !common.json && !quiet && i < s->n_images; i++) {
		const struct image_spec *im = &s->images[i];
		const char *files[] = { im->kernel, im->rootfs, im->initrd };
		const char *what[] = { "kernel", "rootfs", "initrd" };

		for (size_t k = 0; k < ELEMENTSOF(files); k++)
			if (files[k] && access(files[k], F_OK) < 0)
				fprintf(stderr, "banger: note: %s: image '%s': %s '%s': %s here "
						"(plan holds the VMs that use it where it is missing)\n",
					im->path, im->name, what[k], files[k], strerror(errno));
	}
	if (common.json) {
		_cleanup_(json_decref_p) json_t *o = spec_json(s, common.state_dir);

		json_object_set_new(o, "commit", jstr(src->commit));
		json_object_set_new(o, "git_source", jstr(s->host.source_git));
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
	} else if (s->n_diags) {
		size_t held = strv_length(s->held_vms);

		cli_errorf("%zu problem%s in '%s'", s->n_diags, s->n_diags == 1 ? "" : "s",
			   common.state_dir);
		if (held) {
			_cleanup_free_ char *list = xstrdup("");

			for (size_t i = 0; i < held; i++) {
				char *t = xasprintf("%s%s%s", list, i ? ", " : "", s->held_vms[i]);

				free(list);
				list = t;
			}
			fprintf(stderr, "banger: held vms (no action will be taken on them): %s\n",
				list);
		}
	} else if (!quiet)
		print_listing(s);
	return s->n_diags ? EXIT_FAILED : EXIT_CONVERGED;
}
