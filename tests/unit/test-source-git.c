/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for the git source: repositories built by the test with libgit2,
 * fetched over local paths.
 */
#include <check.h>
#include <errno.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "source/git.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/sha256.h"

static char tmpdir[64];

static void
setup(void)
{
	strcpy(tmpdir, "/tmp/banger-git-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	git_libgit2_init();
}

static void
teardown(void)
{
	char *argv[] = { "rm", "-rf", tmpdir, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execvp("rm", argv);
		_exit(127);
	}
	(void)waitpid(pid, NULL, 0);
	git_libgit2_shutdown();
}

struct tfile {
	const char *path;
	const char *data;
	unsigned mode;	/* 0: regular */
};

/* Commit files (NULL-path terminated) on branch; parent = current tip unless orphan. */
static void
commit_files(git_repository *repo, const char *branch, const struct tfile *files, bool orphan,
	     git_oid *ret)
{
	git_index *idx = NULL;
	git_oid tree_id, parent_id, commit_id;
	git_tree *tree = NULL;
	git_commit *parent = NULL;
	git_signature *sig = NULL;
	_cleanup_free_ char *ref = xasprintf("refs/heads/%s", branch);
	int nparents = 0;

	ck_assert_int_eq(git_repository_index(&idx, repo), 0);
	ck_assert_int_eq(git_index_clear(idx), 0);
	for (const struct tfile *f = files; f->path; f++) {
		git_index_entry e = { 0 };

		e.path = f->path;
		e.mode = f->mode ? f->mode : GIT_FILEMODE_BLOB;
		ck_assert_int_eq(git_index_add_from_buffer(idx, &e, f->data, strlen(f->data)), 0);
	}
	ck_assert_int_eq(git_index_write_tree_to(&tree_id, idx, repo), 0);
	ck_assert_int_eq(git_tree_lookup(&tree, repo, &tree_id), 0);
	ck_assert_int_eq(git_signature_new(&sig, "t", "t@example.invalid", 1700000000, 0), 0);
	if (!orphan && git_reference_name_to_id(&parent_id, repo, ref) == 0) {
		ck_assert_int_eq(git_commit_lookup(&parent, repo, &parent_id), 0);
		nparents = 1;
	}
	{
		const git_commit *parents[1] = { parent };

		ck_assert_int_eq(git_commit_create(&commit_id, repo, NULL, sig, sig, NULL, "c", tree,
						   (size_t)nparents, parents),
				 0);
	}
	{
		git_reference *r = NULL;

		ck_assert_int_eq(git_reference_create(&r, repo, ref, &commit_id, 1, "t"), 0);
		git_reference_free(r);
	}
	if (ret)
		*ret = commit_id;
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
	git_index_free(idx);
}

static git_repository *
make_bare(const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", tmpdir, name);
	git_repository *repo = NULL;

	ck_assert_int_eq(git_repository_init(&repo, p, 1), 0);
	ck_assert_int_eq(git_repository_set_head(repo, "refs/heads/main"), 0);
	return repo;
}

static const struct source_file *
find(const struct source *s, const char *path)
{
	for (size_t i = 0; i < s->n_files; i++)
		if (strcmp(s->files[i].path, path) == 0)
			return &s->files[i];
	return NULL;
}

static int
read_src(const char *repo_name, const char *branch, bool rewind, struct source **ret,
	 struct source_git_info *info, struct error **err)
{
	_cleanup_free_ char *url = xasprintf("%s/%s", tmpdir, repo_name);
	_cleanup_free_ char *cache = xasprintf("%s/status/source", tmpdir);
	struct source_git_options o = {
		.url = url, .branch = branch, .cache_dir = cache, .allow_rewind = rewind,
	};

	return source_git_read(&o, ret, info, err);
}

static const struct tfile v1[] = {
	{ "host.yaml", "bridge: {name: br0}\n", 0 },
	{ "vms/web.yaml", "image: demo\n", 0 },
	{ "vms/notes.txt", "ignored\n", 0 },
	{ "images/demo.yaml", "kernel: k\nrootfs: r\n", 0 },
	{ "README.md", "ignored\n", 0 },
	{ "hosts.yaml", "listed as unread\n", 0 },
	{ "vms/db.yml", "listed as unread\n", 0 },
	{ "vms/old/api.yaml", "listed as unread\n", 0 },
	{ "vms/old/deeper/x.yaml", "deeper too\n", 0 },
	{ "docs/sub/y.yaml", "not a kind folder\n", 0 },
	{ NULL, NULL, 0 },
};

static const struct tfile v2[] = {
	{ "vms/web.yaml", "image: demo\nmemory: 1G\n", 0 },
	{ "vms/db.yaml", "image: demo\n", 0 },
	{ "images/demo.yaml", "kernel: k\nrootfs: r\n", 0 },
	{ NULL, NULL, 0 },
};

START_TEST(test_reads_commit_tree)
{
	git_repository *repo = make_bare("r.git");
	struct source *s = NULL;
	struct source_git_info info = { 0 };
	struct error *err = NULL;
	git_oid id;
	char hex[GIT_OID_HEXSZ + 1];

	commit_files(repo, "main", v1, false, &id);
	git_oid_tostr(hex, sizeof(hex), &id);
	read_src("r.git", NULL, false, &s, &info, &err);
	ck_assert_msg(err == NULL, "%s", err ? err->msg : "");
	ck_assert_ptr_null(err);
	ck_assert_ptr_null(info.warning);
	ck_assert_str_eq(info.commit, hex);
	ck_assert_str_eq(info.tip, hex);
	ck_assert_str_eq(s->commit, hex);
	ck_assert_uint_eq(s->n_files, 3);
	ck_assert_str_eq(s->files[0].path, "host.yaml");
	ck_assert_str_eq(s->files[1].path, "images/demo.yaml");
	ck_assert_str_eq(s->files[2].path, "vms/web.yaml");
	ck_assert_str_eq(find(s, "vms/web.yaml")->data, "image: demo\n");
	ck_assert_uint_eq(find(s, "vms/web.yaml")->len, 12);
	ck_assert_ptr_nonnull(s->unread);
	ck_assert_str_eq(s->unread[0], "hosts.yaml");
	ck_assert_str_eq(s->unread[1], "vms/db.yml");
	ck_assert_str_eq(s->unread[2], "vms/old/api.yaml");
	ck_assert_str_eq(s->unread[3], "vms/old/deeper/x.yaml");
	ck_assert_ptr_null(s->unread[4]);
	source_free(s);
	source_git_info_done(&info);
	git_repository_free(repo);
}
END_TEST

START_TEST(test_fast_forward_then_rewind_refused)
{
	git_repository *repo = make_bare("r.git");
	struct source *s = NULL;
	struct source_git_info info = { 0 };
	struct error *err = NULL;
	git_oid id1, id2, id3;
	char h1[GIT_OID_HEXSZ + 1], h2[GIT_OID_HEXSZ + 1], h3[GIT_OID_HEXSZ + 1];

	commit_files(repo, "main", v1, false, &id1);
	ck_assert_int_eq(read_src("r.git", "main", false, &s, &info, &err), 0);
	source_free(s);
	source_git_info_done(&info);

	commit_files(repo, "main", v2, false, &id2);
	git_oid_tostr(h2, sizeof(h2), &id2);
	ck_assert_int_eq(read_src("r.git", "main", false, &s, &info, &err), 0);
	ck_assert_ptr_null(info.warning);
	ck_assert_str_eq(info.commit, h2);
	ck_assert_ptr_nonnull(find(s, "vms/db.yaml"));
	ck_assert_ptr_null(find(s, "host.yaml"));
	source_free(s);
	source_git_info_done(&info);

	/* A force push: a new root commit that does not descend from id2. */
	commit_files(repo, "main", v1, true, &id3);
	git_oid_tostr(h3, sizeof(h3), &id3);
	git_oid_tostr(h1, sizeof(h1), &id1);
	ck_assert_int_eq(read_src("r.git", "main", false, &s, &info, &err), 0);
	ck_assert_ptr_nonnull(info.warning);
	ck_assert_int_eq(info.warning->code, -ESTALE);
	ck_assert_ptr_nonnull(strstr(info.warning->msg, "--allow-rewind"));
	ck_assert_str_eq(info.commit, h2);
	ck_assert_str_eq(info.tip, h3);
	ck_assert_ptr_nonnull(find(s, "vms/db.yaml"));
	source_free(s);
	source_git_info_done(&info);

	/* Still refused on the next run: the accepted commit did not move. */
	ck_assert_int_eq(read_src("r.git", "main", false, &s, &info, &err), 0);
	ck_assert_ptr_nonnull(info.warning);
	ck_assert_str_eq(info.commit, h2);
	source_free(s);
	source_git_info_done(&info);

	ck_assert_int_eq(read_src("r.git", "main", true, &s, &info, &err), 0);
	ck_assert_ptr_null(info.warning);
	ck_assert_str_eq(info.commit, h3);
	ck_assert_ptr_nonnull(find(s, "host.yaml"));
	source_free(s);
	source_git_info_done(&info);
	git_repository_free(repo);
}
END_TEST

START_TEST(test_broken_remote_keeps_last_commit)
{
	git_repository *repo = make_bare("r.git");
	struct source *s = NULL;
	struct source_git_info info = { 0 };
	struct error *err = NULL;
	_cleanup_free_ char *p = xasprintf("%s/r.git", tmpdir), *q = xasprintf("%s/gone.git", tmpdir);
	git_oid id;
	char hex[GIT_OID_HEXSZ + 1];

	commit_files(repo, "main", v1, false, &id);
	git_oid_tostr(hex, sizeof(hex), &id);
	ck_assert_int_eq(read_src("r.git", "main", false, &s, &info, &err), 0);
	source_free(s);
	source_git_info_done(&info);

	ck_assert_int_eq(rename(p, q), 0);
	ck_assert_int_eq(read_src("r.git", "main", false, &s, &info, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_ptr_nonnull(info.warning);
	ck_assert_ptr_nonnull(strstr(info.warning->msg, "fetch"));
	ck_assert_ptr_null(info.tip);
	ck_assert_str_eq(info.commit, hex);
	ck_assert_uint_eq(s->n_files, 3);
	source_free(s);
	source_git_info_done(&info);
	git_repository_free(repo);
}
END_TEST

START_TEST(test_never_fetched_is_an_error)
{
	struct source *s = NULL;
	struct source_git_info info = { 0 };
	struct error *err = NULL;

	ck_assert_int_eq(read_src("missing.git", "main", false, &s, &info, &err), -EIO);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err->msg, "fetch"));
	error_free(err);
}
END_TEST

START_TEST(test_missing_branch)
{
	git_repository *repo = make_bare("r.git");
	struct source *s = NULL;
	struct error *err = NULL;

	commit_files(repo, "main", v1, false, NULL);
	ck_assert_int_eq(read_src("r.git", "prod", false, &s, NULL, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err->msg, "no branch 'prod'"));
	error_free(err);
	err = NULL;
	ck_assert_int_eq(read_src("r.git", "bad..name", false, &s, NULL, &err), -EINVAL);
	error_free(err);
	git_repository_free(repo);
}
END_TEST

START_TEST(test_subdir_and_symlink)
{
	git_repository *repo = make_bare("r.git");
	_cleanup_free_ char *url = xasprintf("%s/r.git", tmpdir);
	_cleanup_free_ char *cache = xasprintf("%s/status/source", tmpdir);
	struct source *s = NULL;
	struct error *err = NULL;
	static const struct tfile files[] = {
		{ "fleet/vms/a.yaml", "image: x\n", 0 },
		{ "fleet/vms/link.yaml", "/etc/shadow", GIT_FILEMODE_LINK },
		{ "other/vms/b.yaml", "image: y\n", 0 },
		{ NULL, NULL, 0 },
	};
	struct source_git_options o = { .url = url, .branch = "main", .subdir = "fleet",
					.cache_dir = cache };

	commit_files(repo, "main", files, false, NULL);
	ck_assert_int_eq(source_git_read(&o, &s, NULL, &err), 0);
	ck_assert_uint_eq(s->n_files, 2);
	ck_assert_str_eq(s->files[0].path, "vms/a.yaml");
	ck_assert_str_eq(s->files[1].path, "vms/link.yaml");
	ck_assert_int_eq(s->files[1].read_error, -ELOOP);
	ck_assert_ptr_null(s->files[1].data);
	source_free(s);
	s = NULL;

	o.subdir = "../etc";
	ck_assert_int_eq(source_git_read(&o, &s, NULL, &err), -EINVAL);
	error_free(err);
	err = NULL;
	o.subdir = "nowhere";
	ck_assert_int_eq(source_git_read(&o, &s, NULL, &err), -ENOENT);
	error_free(err);
	git_repository_free(repo);
}
END_TEST

START_TEST(test_work_tree_dirty_edits_ignored)
{
	_cleanup_free_ char *wt = xasprintf("%s/wt", tmpdir), *f = NULL;
	git_repository *repo = NULL;
	struct source *s = NULL;
	struct error *err = NULL;

	ck_assert_int_eq(git_repository_init(&repo, wt, 0), 0);
	commit_files(repo, "master", v1, false, NULL);
	/* A half-finished edit in the work tree, never committed. */
	f = xasprintf("%s/vms", wt);
	ck_assert_int_eq(mkdir(f, 0755), 0);
	free(f);
	f = xasprintf("%s/vms/web.yaml", wt);
	ck_assert_int_eq(write_file_atomic(f, "image: [broken\n", 15, 0644), 0);
	ck_assert(source_git_is_repository(wt));
	ck_assert(!source_git_is_repository(tmpdir));

	/* No branch given: the one HEAD names (master here) is used. */
	ck_assert_int_eq(read_src("wt", NULL, false, &s, NULL, &err), 0);
	ck_assert_str_eq(find(s, "vms/web.yaml")->data, "image: demo\n");
	source_free(s);
	git_repository_free(repo);
}
END_TEST

START_TEST(test_in_place_and_dry_run)
{
	git_repository *repo = make_bare("r.git");
	_cleanup_free_ char *url = xasprintf("%s/r.git", tmpdir);
	_cleanup_free_ char *cache = xasprintf("%s/status/source", tmpdir);
	struct source_git_options o = { .url = url, .branch = "main" };
	struct source_git_info info = { 0 };
	struct source *s = NULL;
	struct error *err = NULL;
	git_oid id1, id2;
	char h1[GIT_OID_HEXSZ + 1], h2[GIT_OID_HEXSZ + 1];
	struct stat st;

	commit_files(repo, "main", v1, false, &id1);
	git_oid_tostr(h1, sizeof(h1), &id1);
	/* In place: no cache is made, the tip is read. */
	ck_assert_int_eq(source_git_read(&o, &s, &info, &err), 0);
	ck_assert_str_eq(info.commit, h1);
	ck_assert_int_eq(stat(cache, &st), -1);
	source_free(s);
	source_git_info_done(&info);
	o.branch = "nope";
	ck_assert_int_eq(source_git_read(&o, &s, NULL, &err), -ENOENT);
	error_free(err);
	err = NULL;

	/* Dry run: fetched and checked, but the accepted commit stays. */
	o.branch = "main";
	o.cache_dir = cache;
	ck_assert_int_eq(source_git_read(&o, &s, &info, &err), 0);
	source_free(s);
	source_git_info_done(&info);
	commit_files(repo, "main", v2, false, &id2);
	git_oid_tostr(h2, sizeof(h2), &id2);
	o.dry_run = true;
	ck_assert_int_eq(source_git_read(&o, &s, &info, &err), 0);
	ck_assert_str_eq(info.commit, h2);
	source_free(s);
	source_git_info_done(&info);
	{
		git_repository *c = NULL;
		git_oid applied;

		ck_assert_int_eq(git_repository_open_bare(&c, cache), 0);
		_cleanup_free_ char *ref = source_git_applied_ref(url, "main");

		ck_assert_int_eq(git_reference_name_to_id(&applied, c, ref), 0);
		ck_assert(git_oid_equal(&applied, &id1));
		git_repository_free(c);
	}
	git_repository_free(repo);
}
END_TEST

/*
 * The source cache as an earlier version left it for the branch main of
 * repo_name: no ref of that repository, the one ref of the branch at
 * legacy (NULL: as it is), the fetched tip at tip, the remote at the
 * repository.
 */
static void
cache_as_before(const char *repo_name, const git_oid *legacy, const git_oid *tip)
{
	_cleanup_free_ char *url = xasprintf("%s/%s", tmpdir, repo_name);
	_cleanup_free_ char *cache = xasprintf("%s/status/source", tmpdir);
	_cleanup_free_ char *ref = source_git_applied_ref(url, "main");
	git_repository *c = NULL;
	git_reference *r = NULL;

	ck_assert_int_eq(git_repository_open_bare(&c, cache), 0);
	ck_assert_int_eq(git_reference_lookup(&r, c, ref), 0);
	ck_assert_int_eq(git_reference_delete(r), 0);
	git_reference_free(r);
	if (legacy) {
		ck_assert_int_eq(git_reference_create(&r, c, SOURCE_GIT_APPLIED_REF "main", legacy,
						      1, "t"), 0);
		git_reference_free(r);
	}
	ck_assert_int_eq(git_reference_create(&r, c, "refs/remotes/origin/main", tip, 1, "t"), 0);
	git_reference_free(r);
	ck_assert_int_eq(git_remote_set_url(c, "origin", url), 0);
	git_repository_free(c);
}

/*
 * Another repository for the same branch starts afresh: its tip is accepted
 * (it is no rewind of the last one's), and when it cannot be fetched, the
 * last one's commit is not read instead.  An upgrade from the ref of one
 * branch keeps the accepted commit.
 */
START_TEST(test_switch_repository)
{
	git_repository *a = make_bare("a.git"), *b = make_bare("b.git");
	struct source *s = NULL;
	struct source_git_info info = { 0 };
	struct error *err = NULL;
	git_oid ida, idb, ida2;
	char ha[GIT_OID_HEXSZ + 1], hb[GIT_OID_HEXSZ + 1];

	commit_files(a, "main", v1, false, &ida);
	commit_files(b, "main", v2, false, &idb);
	git_oid_tostr(ha, sizeof(ha), &ida);
	git_oid_tostr(hb, sizeof(hb), &idb);
	ck_assert_int_eq(read_src("a.git", "main", false, &s, &info, &err), 0);
	ck_assert_str_eq(info.commit, ha);
	s = source_free(s);
	source_git_info_done(&info);
	ck_assert_int_eq(read_src("b.git", "main", false, &s, &info, &err), 0);
	ck_assert_ptr_null(info.warning);
	ck_assert_str_eq(info.commit, hb);
	s = source_free(s);
	source_git_info_done(&info);
	ck_assert_int_eq(read_src("gone.git", "main", false, &s, &info, &err), -EIO);
	ck_assert_ptr_null(s);
	error_free(TAKE_PTR(err));
	source_git_info_done(&info);

	/* The ref of one branch that earlier versions kept, for a's url: taken
	 * over, so a rewound a is still refused. */
	cache_as_before("a.git", &ida, &ida);
	commit_files(a, "main", v2, true, &ida2);	/* an orphan: a rewind */
	ck_assert_int_eq(read_src("a.git", "main", false, &s, &info, &err), 0);
	ck_assert_ptr_nonnull(info.warning);
	ck_assert_str_eq(info.commit, ha);
	s = source_free(s);
	source_git_info_done(&info);

	/* What an earlier version left after a switch to b: its one ref still
	 * a's commit, the remote b's, b's tip fetched.  Not taken over: b's tip
	 * is accepted. */
	cache_as_before("b.git", NULL, &idb);
	ck_assert_int_eq(read_src("b.git", "main", false, &s, &info, &err), 0);
	ck_assert_ptr_null(info.warning);
	ck_assert_str_eq(info.commit, hb);
	s = source_free(s);
	source_git_info_done(&info);
	git_repository_free(a);
	git_repository_free(b);
}
END_TEST

/* Delete branch from repo. */
static void
delete_branch(git_repository *repo, const char *branch)
{
	_cleanup_free_ char *name = xasprintf("refs/heads/%s", branch);
	git_reference *r = NULL;

	ck_assert_int_eq(git_reference_lookup(&r, repo, name), 0);
	ck_assert_int_eq(git_reference_delete(r), 0);
	git_reference_free(r);
}

/*
 * A branch the remote does not have is never read from an earlier fetch:
 * another repository's missing branch is an error (not the last one's tip),
 * the same repository's is a failed fetch (the accepted commit, a warning).
 */
START_TEST(test_missing_branch_not_stale)
{
	git_repository *a = make_bare("a.git"), *b = make_bare("b.git");
	struct source *s = NULL;
	struct source_git_info info = { 0 };
	struct error *err = NULL;
	git_oid ida;
	char ha[GIT_OID_HEXSZ + 1];

	commit_files(a, "main", v1, false, &ida);
	git_oid_tostr(ha, sizeof(ha), &ida);
	commit_files(b, "master", v2, false, NULL);
	ck_assert_int_eq(read_src("a.git", "main", false, &s, &info, &err), 0);
	ck_assert_str_eq(info.commit, ha);
	s = source_free(s);
	source_git_info_done(&info);

	ck_assert_int_eq(read_src("b.git", "main", false, &s, &info, &err), -ENOENT);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err->msg, "no branch 'main' there"));
	error_free(TAKE_PTR(err));
	source_git_info_done(&info);

	/* main renamed on a: the fetch fails, the accepted commit stays. */
	commit_files(a, "trunk", v2, false, NULL);
	delete_branch(a, "main");
	ck_assert_int_eq(read_src("a.git", "main", false, &s, &info, &err), 0);
	ck_assert_ptr_nonnull(info.warning);
	ck_assert_ptr_nonnull(strstr(info.warning->msg, "no branch 'main' there"));
	ck_assert_ptr_null(info.tip);
	ck_assert_str_eq(info.commit, ha);
	s = source_free(s);
	source_git_info_done(&info);
	git_repository_free(a);
	git_repository_free(b);
}
END_TEST

/*
 * A branch whose name has another's as a prefix ("release", then
 * "release/v2", then back): each is fetched and accepted, nothing of the
 * other's stands in the way.
 */
START_TEST(test_branch_name_prefix)
{
	git_repository *repo = make_bare("r.git");
	struct source *s = NULL;
	struct source_git_info info = { 0 };
	struct error *err = NULL;
	git_oid id1, id2, id3;
	char h2[GIT_OID_HEXSZ + 1], h3[GIT_OID_HEXSZ + 1];

	commit_files(repo, "release", v1, false, &id1);
	ck_assert_int_eq(read_src("r.git", "release", false, &s, &info, &err), 0);
	s = source_free(s);
	source_git_info_done(&info);

	delete_branch(repo, "release");
	commit_files(repo, "release/v2", v2, false, &id2);
	git_oid_tostr(h2, sizeof(h2), &id2);
	ck_assert_int_eq(read_src("r.git", "release/v2", false, &s, &info, &err), 0);
	ck_assert_msg(err == NULL, "%s", err ? err->msg : "");
	ck_assert_ptr_null(info.warning);
	ck_assert_str_eq(info.commit, h2);
	s = source_free(s);
	source_git_info_done(&info);

	delete_branch(repo, "release/v2");
	commit_files(repo, "release", v1, true, &id3);
	git_oid_tostr(h3, sizeof(h3), &id3);
	ck_assert_int_eq(read_src("r.git", "release", true, &s, &info, &err), 0);
	ck_assert_msg(err == NULL, "%s", err ? err->msg : "");
	ck_assert_str_eq(info.commit, h3);
	s = source_free(s);
	source_git_info_done(&info);
	git_repository_free(repo);
}
END_TEST

/*
 * The previous version kept the accepted commit of url and branch as
 * refs/banger/applied/URLHASH/BRANCH: taken over, so a rewind after an
 * upgrade is still refused.
 */
START_TEST(test_take_over_per_url_ref)
{
	git_repository *a = make_bare("a.git"), *c = NULL;
	_cleanup_free_ char *url = xasprintf("%s/a.git", tmpdir);
	_cleanup_free_ char *cache = xasprintf("%s/status/source", tmpdir);
	_cleanup_free_ char *ref = source_git_applied_ref(url, "main");
	_cleanup_free_ char *real = realpath(url, NULL), *old = NULL;
	struct source *s = NULL;
	struct source_git_info info = { 0 };
	struct error *err = NULL;
	git_reference *r = NULL;
	git_oid ida, ida2;
	char ha[GIT_OID_HEXSZ + 1], hex[SHA256_HEX_SIZE];

	commit_files(a, "main", v1, false, &ida);
	git_oid_tostr(ha, sizeof(ha), &ida);
	ck_assert_int_eq(read_src("a.git", "main", false, &s, &info, &err), 0);
	s = source_free(s);
	source_git_info_done(&info);

	ck_assert_ptr_nonnull(real);
	sha256_hex_buf(real, strlen(real), hex);
	old = xasprintf(SOURCE_GIT_APPLIED_REF "%.16s/main", hex);
	ck_assert_int_eq(git_repository_open_bare(&c, cache), 0);
	ck_assert_int_eq(git_reference_lookup(&r, c, ref), 0);
	ck_assert_int_eq(git_reference_delete(r), 0);
	git_reference_free(r);
	ck_assert_int_eq(git_reference_create(&r, c, old, &ida, 1, "t"), 0);
	git_reference_free(r);
	git_repository_free(c);

	commit_files(a, "main", v2, true, &ida2);	/* an orphan: a rewind */
	ck_assert_int_eq(read_src("a.git", "main", false, &s, &info, &err), 0);
	ck_assert_ptr_nonnull(info.warning);
	ck_assert_str_eq(info.commit, ha);
	s = source_free(s);
	source_git_info_done(&info);
	git_repository_free(a);
}
END_TEST

/* A detached HEAD and no branch given: an error that says so, not "main". */
START_TEST(test_detached_head)
{
	git_repository *repo = make_bare("r.git");
	_cleanup_free_ char *url = xasprintf("%s/r.git", tmpdir);
	struct source_git_options o = { .url = url };
	struct source *s = NULL;
	struct error *err = NULL;
	git_oid id;

	commit_files(repo, "main", v1, false, &id);
	ck_assert_int_eq(git_repository_set_head_detached(repo, &id), 0);
	ck_assert_int_eq(source_git_read(&o, &s, NULL, &err), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err->msg, "HEAD is detached"));
	error_free(TAKE_PTR(err));
	ck_assert_int_eq(read_src("r.git", NULL, false, &s, NULL, &err), -EINVAL);
	error_free(TAKE_PTR(err));
	ck_assert_int_eq(read_src("r.git", "main", false, &s, NULL, &err), 0);
	source_free(s);
	git_repository_free(repo);
}
END_TEST

/* The same tree as a commit and as a directory: the same files, read errors
 * and unread list from both sources. */
static const struct tfile odd[] = {
	{ "images/base.yaml", "kernel: k\nrootfs: r\n", 0 },
	{ "vms/web.yml/README", "a folder named like a declaration\n", 0 },
	{ "vms/db.yaml/x.yaml", "a folder named as a declaration\n", 0 },
	{ "vms/old/api.yaml", "image: base\n", 0 },
	{ "vms/old/2023/cache.yml", "image: base\n", 0 },
	{ "vms/.hidden/x.yaml", "hidden\n", 0 },
	{ "vms/ok.yaml", "image: base\n", 0 },
	{ "hosts.yml", "x", GIT_FILEMODE_LINK },
	{ "test.yaml", "a: 1\n", 0 },
	{ "docs/sub/y.yaml", "not under a kind folder\n", 0 },
	{ NULL, NULL, 0 },
};

static void
write_dir(const char *root, const struct tfile *files)
{
	for (const struct tfile *f = files; f->path; f++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", root, f->path);
		_cleanup_free_ char *dir = xstrdup(p);

		*strrchr(dir, '/') = '\0';
		ck_assert_int_eq(mkdir_p(dir, 0755), 0);
		if (f->mode == GIT_FILEMODE_LINK)
			ck_assert_int_eq(symlink(f->data, p), 0);
		else
			ck_assert_int_eq(write_file_atomic(p, f->data, strlen(f->data), 0644), 0);
	}
}

START_TEST(test_dir_and_git_agree)
{
	git_repository *repo = make_bare("odd.git");
	_cleanup_free_ char *dir = xasprintf("%s/odd-dir", tmpdir);
	struct source *g = NULL, *d = NULL;
	struct source_git_info info = { 0 };
	struct error *err = NULL;

	commit_files(repo, "main", odd, false, NULL);
	read_src("odd.git", NULL, false, &g, &info, &err);
	ck_assert_msg(err == NULL, "%s", err ? err->msg : "");
	write_dir(dir, odd);
	ck_assert_int_eq(source_dir_read(dir, &d, &err), 0);
	ck_assert_uint_eq(g->n_files, d->n_files);
	for (size_t i = 0; i < g->n_files; i++) {
		ck_assert_str_eq(g->files[i].path, d->files[i].path);
		ck_assert_int_eq(g->files[i].read_error, d->files[i].read_error);
	}
	ck_assert_str_eq(d->files[1].path, "vms/db.yaml");
	ck_assert_int_eq(d->files[1].read_error, -EISDIR);
	ck_assert_ptr_nonnull(g->unread);
	ck_assert_ptr_nonnull(d->unread);
	for (size_t i = 0; g->unread[i] || d->unread[i]; i++) {
		ck_assert_ptr_nonnull(g->unread[i]);
		ck_assert_ptr_nonnull(d->unread[i]);
		ck_assert_str_eq(g->unread[i], d->unread[i]);
	}
	ck_assert_str_eq(d->unread[0], "hosts.yml");
	ck_assert_str_eq(d->unread[1], "test.yaml");
	ck_assert_str_eq(d->unread[2], "vms/old/2023/cache.yml");
	ck_assert_str_eq(d->unread[3], "vms/old/api.yaml");
	ck_assert_str_eq(d->unread[4], "vms/web.yml");
	ck_assert_ptr_null(d->unread[5]);
	source_free(g);
	source_free(d);
	source_git_info_done(&info);
	git_repository_free(repo);
}
END_TEST

static Suite *
source_git_suite(void)
{
	Suite *s = suite_create("source-git");
	TCase *tc = tcase_create("git");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reads_commit_tree);
	tcase_add_test(tc, test_fast_forward_then_rewind_refused);
	tcase_add_test(tc, test_broken_remote_keeps_last_commit);
	tcase_add_test(tc, test_never_fetched_is_an_error);
	tcase_add_test(tc, test_missing_branch);
	tcase_add_test(tc, test_subdir_and_symlink);
	tcase_add_test(tc, test_work_tree_dirty_edits_ignored);
	tcase_add_test(tc, test_in_place_and_dry_run);
	tcase_add_test(tc, test_dir_and_git_agree);
	tcase_add_test(tc, test_switch_repository);
	tcase_add_test(tc, test_missing_branch_not_stale);
	tcase_add_test(tc, test_branch_name_prefix);
	tcase_add_test(tc, test_take_over_per_url_ref);
	tcase_add_test(tc, test_detached_head);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(source_git_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
