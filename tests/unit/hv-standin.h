/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A stand-in hypervisor process for the hv tests: the test program re-runs
 * itself (/proc/self/exe) as "standin ACTIONS ARG...", so the ARGs (a socket
 * path) stay on its command line while it lives, as QEMU's do.  ACTIONS is
 * a comma-separated list of:
 *   io       print to stdout and stderr, list open fds, report stdin at EOF
 *   ignterm  ignore SIGTERM
 *   ready1   after a second print the guest ready marker
 * then "standin-up" is printed and the process waits up to 60 s.
 */
#pragma once

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
standin_main(int argc, char **argv)
{
	const char *actions = argc > 2 ? argv[2] : "";

	if (strstr(actions, "ignterm"))
		(void)signal(SIGTERM, SIG_IGN);
	if (strstr(actions, "io")) {
		char fds[64] = "";
		char c;
		DIR *d;
		struct dirent *de;
		int self;

		printf("to-stdout\n");
		fflush(stdout);
		fprintf(stderr, "to-stderr\n");
		d = opendir("/proc/self/fd");
		self = d ? dirfd(d) : -1;
		for (int fd = 0; fd < 64; fd++)
			fds[fd] = '.';
		while (d && (de = readdir(d))) {
			int fd = atoi(de->d_name);

			if (de->d_name[0] != '.' && fd != self && fd < 64)
				fds[fd] = 'o';
		}
		if (d)
			closedir(d);
		fds[16] = '\0';
		fprintf(stderr, "fds %s\n", fds);
		if (read(STDIN_FILENO, &c, 1) == 0)
			fprintf(stderr, "stdin-eof\n");
	}
	if (strstr(actions, "ready1")) {
		sleep(1);
		printf("banger-guest-ready ip=10.0.0.2\n");
	}
	printf("standin-up\n");
	fflush(stdout);
	for (int i = 0; i < 60; i++)
		sleep(1);
	return 0;
}
