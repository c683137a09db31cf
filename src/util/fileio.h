/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whole-file reads and durable atomic writes.  Leaf module: returns -errno,
 * never logs.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * Replace path with data, atomically and durably: write "path.tmp.PID" in the
 * same directory with the given mode, fsync it, rename it over path, fsync the
 * directory.  Readers see the old or the new content, never a mix.  The temp
 * file is removed on failure.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* write_file_atomic, the new file owned by uid:gid ((uid_t)-1, (gid_t)-1:
 * the writer's): a file replaced for its owner stays its owner's. */
int write_file_atomic_owned(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
			    gid_t gid);

/*
 * The same, atomic but not yet durable: no fsync.  Readers (and a process
 * that dies right after) see the old or the new content, never a mix; a
 * power loss may bring the old one back until the file and its directory
 * are synced.
 */
int write_file_replace(const char *path, const void *data, size_t len, mode_t mode);

/*
 * write_file_atomic and write_file_replace through "path.tmp" instead: for
 * files only ever written by one process at a time (banger's records,
 * under its run lock), so that a temp file a killed writer left is taken
 * over by the next write of that path instead of staying behind.
 */
int write_file_atomic_fixed(const char *path, const void *data, size_t len, mode_t mode);
int write_file_replace_fixed(const char *path, const void *data, size_t len, mode_t mode);

/*
 * Remove the temp files "NAME.tmp.PID" in dir (the write_file_atomic and
 * write_file_replace ones) whose writer is gone: no process PID.  Best
 * effort; returns how many were removed, or -errno when dir cannot be read
 * (-ENOENT: no dir).
 */
int remove_dead_temporaries(const char *dir);

/*
 * Read a regular file whole into a NUL-terminated buffer (the NUL is not
 * counted in *ret_len).  -EFBIG when it is larger than max bytes, -EISDIR
 * or -EINVAL when it is not a regular file.  Files that report no size
 * (procfs, sysfs) are read to their end.  Caller frees *ret_data.
 */
int read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
/* The same for a file already open at fd (its position at the start). */
int read_fd_regular(int fd, size_t max, char **ret_data, size_t *ret_len);
/* read_fd_regular, and the file's mode in *ret_mode (NULL: not wanted) once
 * it is known, even when the read then fails. */
int read_fd_regular_mode(int fd, size_t max, char **ret_data, size_t *ret_len, mode_t *ret_mode);
/*
 * read_file for a procfs file (no size, never a directory or a device):
 * open, reads to the end, close; no fstat, which read_file spends on
 * checks such a file does not need.  For what a run reads once per process
 * on the host (/proc/PID/cmdline).
 */
int read_proc_file(const char *path, size_t max, char **ret_data, size_t *ret_len);

/* mkdir -p with the given mode for the directories it creates. */
int mkdir_p(const char *path, mode_t mode);

/* fsync the directory that holds path. */
int fsync_parent_dir(const char *path);
