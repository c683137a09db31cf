/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A main() for fuzz targets in ordinary builds: feeds every file named on
 * the command line (or found in the directories named) to the target once,
 * so make check keeps the targets building and replays their seed corpus
 * under the sanitizers.  Builds with --enable-fuzz link libFuzzer instead.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_path(const char *path, unsigned *count)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		perror(path);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		int r = 0;

		if (!d) {
			perror(path);
			return -1;
		}
		while ((de = readdir(d))) {
			_cleanup_free_ char *p = NULL;

			if (de->d_name[0] == '.')
				continue;
			p = xasprintf("%s/%s", path, de->d_name);
			if (run_path(p, count) < 0)
				r = -1;
		}
		closedir(d);
		return r;
	}
	{
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		int r = read_file(path, 8 << 20, &data, &len);

		if (r < 0) {
			fprintf(stderr, "%s: %s\n", path, strerror(-r));
			return -1;
		}
		(void)LLVMFuzzerTestOneInput((const uint8_t *)data, len);
		(*count)++;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned count = 0;
	int r = 0;

	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) < 0)
			r = 1;
	printf("replayed %u inputs\n", count);
	return r;
}
