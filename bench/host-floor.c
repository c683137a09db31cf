/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The floor of the host section's per-VM cost on this host: the kernel work
 * that creating and deleting a VM's host objects asks for, done as directly
 * as a program can, with nothing of banger's around it (no declarations,
 * records to format, observation, plan, NAT rules or file syncs).  What
 * banger costs above it is what banger could still save; what it costs is
 * what this host's kernel and disk charge.
 *
 * Per VM, creating: a tap on a bridge (TUNSETIFF, TUNSETPERSIST, then one
 * RTM_NEWLINK: master, group, up); a folder; a record written twice (a
 * temp file renamed over it); a root disk (a FICLONE of the image, or its
 * data copied where the file system cannot clone); a work disk (the same
 * from a template); both disks synced, then the folder; every record synced
 * at the end.  Deleting: the taps removed by one RTM_DELLINK of their
 * group; each root disk unlinked, each work disk renamed into retained/
 * (synced), the folder and the record removed, vms/ synced.  The taps are
 * made and removed on one thread while JOBS threads do the files, as banger
 * overlaps them.
 *
 * Usage: host-floor DIR N IMAGE TEMPLATE [JOBS]
 * Root, inside a private network namespace (BANGER_OUTER_NETNS names the
 * one it must not be).  Prints one JSON object: the milliseconds per VM of
 * one creation and one deletion, and how the root disks were made.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drivers/nat.h"
#include "private-netns.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/name.h"

#define BRIDGE "bgfloor0"
#define GROUP 4077
#define JOBS_MAX 64

static const char *dir, *image, *template;
static long n_vms;
static unsigned jobs = 8;
static int bridge_index;
static struct nat_ops *nat;
static bool cloned;	/* the root disks were clones (FICLONE worked) */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static char *failure;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
fail(const char *what, int e)
{
	pthread_mutex_lock(&fail_lock);
	if (!failure)
		failure = xasprintf("%s: %s", what, strerror(e));
	pthread_mutex_unlock(&fail_lock);
}

static int
sync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* src's data (its holes stay holes) into a new file at path, sized as src;
 * a clone where the file system can.  Synced. */
static int
disk_from(const char *src, const char *path)
{
	int in = -1, out = -1, r = 0;
	struct stat st;
	off_t pos = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0 || fstat(in, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (ioctl(out, FICLONE, in) == 0) {
		__atomic_store_n(&cloned, true, __ATOMIC_RELAXED);
		goto sync;
	}
	if (ftruncate(out, st.st_size) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		off_t data = lseek(in, pos, SEEK_DATA), hole, o_in, o_out;

		if (data < 0)
			break;	/* ENXIO: no more data */
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0) {
			r = -errno;
			goto out;
		}
		o_in = o_out = data;
		while (o_in < hole) {
			ssize_t k = copy_file_range(in, &o_in, out, &o_out, (size_t)(hole - o_in), 0);

			if (k <= 0) {
				r = k < 0 ? -errno : -EIO;
				goto out;
			}
		}
		pos = hole;
	}
sync:
	if (fsync(out) < 0)
		r = -errno;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

static int
record_write(long i, const char *text)
{
	_cleanup_free_ char *tmp = xasprintf("%s/vms/f%04ld.yaml.tmp", dir, i);
	_cleanup_free_ char *path = xasprintf("%s/vms/f%04ld.yaml", dir, i);
	size_t len = strlen(text);
	int fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return rename(tmp, path) < 0 ? -errno : 0;
}

static void *
files_create(void *arg)
{
	/* A record about the size of banger's. */
	static char text[1200];
	long t = (long)arg;

	memset(text, 'x', sizeof(text) - 1);
	for (long i = t; i < n_vms; i += jobs) {
		_cleanup_free_ char *vm = xasprintf("%s/vms/f%04ld", dir, i);
		_cleanup_free_ char *root = xasprintf("%s/root.img", vm);
		_cleanup_free_ char *work = xasprintf("%s/work.ext4", vm);
		int r;

		if (mkdir(vm, 0700) < 0) {
			fail(vm, errno);
			return NULL;
		}
		if ((r = record_write(i, text)) < 0) {
			fail("record", -r);
			return NULL;
		}
		if ((r = disk_from(image, root)) < 0) {
			fail(root, -r);
			return NULL;
		}
		if ((r = disk_from(template, work)) < 0 || (r = sync_path(vm)) < 0 ||
		    (r = record_write(i, text)) < 0) {
			fail(work, -r);
			return NULL;
		}
	}
	return NULL;
}

static void *
files_sync(void *arg)
{
	long t = (long)arg;

	for (long i = t; i < n_vms; i += jobs) {
		_cleanup_free_ char *path = xasprintf("%s/vms/f%04ld.yaml", dir, i);
		int r;

		if ((r = sync_path(path)) < 0) {
			fail(path, -r);
			return NULL;
		}
	}
	return NULL;
}

static void *
files_delete(void *arg)
{
	_cleanup_free_ char *retained = xasprintf("%s/retained", dir);
	long t = (long)arg;
	int r;

	for (long i = t; i < n_vms; i += jobs) {
		_cleanup_free_ char *vm = xasprintf("%s/vms/f%04ld", dir, i);
		_cleanup_free_ char *root = xasprintf("%s/root.img", vm);
		_cleanup_free_ char *work = xasprintf("%s/work.ext4", vm);
		_cleanup_free_ char *to = xasprintf("%s/f%04ld.ext4", retained, i);
		_cleanup_free_ char *record = xasprintf("%s/vms/f%04ld.yaml", dir, i);

		if (unlink(root) < 0) {
			fail(root, errno);
			return NULL;
		}
		if (rename(work, to) < 0) {
			fail(work, errno);
			return NULL;
		}
		if ((r = sync_path(retained)) < 0) {
			fail(retained, -r);
			return NULL;
		}
		if (rmdir(vm) < 0) {
			fail(vm, errno);
			return NULL;
		}
		if (unlink(record) < 0) {
			fail(record, errno);
			return NULL;
		}
	}
	return NULL;
}

/* VM i's id, and its tap's name as banger derives it. */
static void
vm_id(long i, char id[VM_ID_LEN + 1], char tap[16])
{
	snprintf(id, VM_ID_LEN + 1, "f100%04lx%024x", (unsigned long)i & 0xffffUL, 0);
	name_tap_from_id(id, tap);
}

static int
tap_create(struct nl_sock *sk, long i)
{
	char id[VM_ID_LEN + 1], tap[16];

	struct rtnl_link *l = NULL, *change = NULL;
	struct ifreq ifr = { 0 };
	int fd, r;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	vm_id(i, id, tap);
	memcpy(ifr.ifr_name, tap, sizeof(tap));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0 ||
	    ioctl(nl_socket_get_fd(sk), SIOCGIFINDEX, &ifr) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	l = rtnl_link_alloc();
	change = rtnl_link_alloc();
	rtnl_link_set_ifindex(l, ifr.ifr_ifindex);
	rtnl_link_set_master(change, bridge_index);
	rtnl_link_set_group(change, GROUP);
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sk, l, change, 0);
	rtnl_link_put(l);
	rtnl_link_put(change);
	return r < 0 ? -EIO : 0;
}

static int
taps_delete(struct nl_sock *sk)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
	int r;

	if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, IFLA_GROUP, GROUP) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	r = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (r >= 0)
		r = nl_wait_for_ack(sk);
	return r < 0 ? -EIO : 0;
}

struct taps {
	struct nl_sock *sk;
	bool create;
};

/* Each VM's tap and NAT rules (through banger's nf_tables driver: netlink
 * messages, one transaction per VM), or all of them removed. */
static void *
taps_run(void *arg)
{
	struct taps *t = arg;
	struct error *err = NULL;
	char id[VM_ID_LEN + 1], tap[16];
	int r = 0;

	if (nat->table_ensure(nat->userdata, &err) < 0)
		goto nat_failed;
	for (long i = 0; t->create && i < n_vms; i++) {
		r = tap_create(t->sk, i);
		if (r < 0) {
			fail("tap", -r);
			return NULL;
		}
		vm_id(i, id, tap);
		if (nat->vm_add(nat->userdata, id, tap, 0x0a5e0000U + (uint32_t)i + 2, "lo", &err) < 0)
			goto nat_failed;
	}
	if (t->create)
		return NULL;
	for (long i = 0; i < n_vms; i++) {
		vm_id(i, id, tap);
		if (nat->vm_delete(nat->userdata, id, &err) < 0)
			goto nat_failed;
	}
	if (nat->flush && nat->flush(nat->userdata, &err) < 0)
		goto nat_failed;
	r = taps_delete(t->sk);
	if (r < 0)
		fail("tap group delete", -r);
	return NULL;
nat_failed:
	fail(err ? err->msg : "nat", EIO);
	error_free(err);
	return NULL;
}

/* The taps on one thread, fn on jobs threads, all at once; wall ms. */
static double
run(struct nl_sock *sk, bool create, void *(*fn)(void *))
{
	pthread_t th[JOBS_MAX + 1];
	struct taps t = { .sk = sk, .create = create };
	double t0 = now_ms();

	if (pthread_create(&th[jobs], NULL, taps_run, &t) != 0) {
		fail("thread", EAGAIN);
		return 0;
	}
	for (unsigned i = 0; i < jobs; i++)
		if (pthread_create(&th[i], NULL, fn, (void *)(long)i) != 0) {
			fail("thread", EAGAIN);
			th[i] = 0;
		}
	for (unsigned i = 0; i <= jobs; i++)
		if (th[i])
			pthread_join(th[i], NULL);
	if (create) {
		/* The records, synced at the end of the run. */
		for (unsigned i = 0; i < jobs; i++)
			pthread_create(&th[i], NULL, files_sync, (void *)(long)i);
		for (unsigned i = 0; i < jobs; i++)
			pthread_join(th[i], NULL);
	} else {
		_cleanup_free_ char *vms = xasprintf("%s/vms", dir);

		(void)sync_path(vms);
	}
	return now_ms() - t0;
}

static int
bridge_make(struct nl_sock *sk)
{
	struct rtnl_link *l = rtnl_link_alloc(), *got = NULL;
	int r;

	rtnl_link_set_name(l, BRIDGE);
	rtnl_link_set_flags(l, IFF_UP);
	r = rtnl_link_set_type(l, "bridge");
	if (r >= 0)
		r = rtnl_link_add(sk, l, NLM_F_CREATE);
	rtnl_link_put(l);
	if (r >= 0)
		r = rtnl_link_get_kernel(sk, 0, BRIDGE, &got);
	if (r < 0)
		return -EIO;
	bridge_index = rtnl_link_get_ifindex(got);
	rtnl_link_put(got);
	return 0;
}

int
main(int argc, char **argv)
{
	_cleanup_free_ char *vms = NULL, *retained = NULL;
	struct nl_sock *sk;
	double c, d = 0;

	if (argc < 5 || argc > 6 || (n_vms = strtol(argv[2], NULL, 10)) < 1 || n_vms > 9999) {
		fprintf(stderr, "usage: host-floor DIR N IMAGE TEMPLATE [JOBS]\n");
		return 2;
	}
	dir = argv[1];
	image = argv[3];
	template = argv[4];
	if (argc == 6) {
		long j = strtol(argv[5], NULL, 10);

		if (j < 1 || j > JOBS_MAX) {
			fprintf(stderr, "host-floor: JOBS is 1 to %d\n", JOBS_MAX);
			return 2;
		}
		jobs = (unsigned)j;
	}
	if (geteuid() != 0 || !bench_in_private_netns()) {
		fprintf(stderr, "host-floor: run as root inside a private network namespace\n");
		return 77;
	}
	{
		struct error *err = NULL;

		if (nat_nft_new(&nat, &err) < 0) {
			fprintf(stderr, "host-floor: nat: %s\n", err ? err->msg : "?");
			error_free(err);
			return 1;
		}
	}
	sk = nl_socket_alloc();
	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0 || bridge_make(sk) < 0) {
		fprintf(stderr, "host-floor: netlink or bridge '%s' failed\n", BRIDGE);
		return 1;
	}
	vms = xasprintf("%s/vms", dir);
	retained = xasprintf("%s/retained", dir);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || (mkdir(vms, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(retained, 0700) < 0 && errno != EEXIST)) {
		perror("host-floor: mkdir");
		return 1;
	}
	c = run(sk, true, files_create);
	if (!failure)
		d = run(sk, false, files_delete);
	if (failure) {
		fprintf(stderr, "host-floor: %s\n", failure);
		return 1;
	}
	printf("{\"n\": %ld, \"jobs\": %u, \"root_disks\": \"%s\", \"create_ms_per_vm\": %.3f, "
	       "\"delete_ms_per_vm\": %.3f}\n",
	       n_vms, jobs, cloned ? "clone" : "copy", c / (double)n_vms, d / (double)n_vms);
	nl_socket_free(sk);
	(void)nat_nft_free(nat);
	return 0;
}
