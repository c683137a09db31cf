/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HTTP/1.1 over AF_UNIX for Firecracker's API.  Must not depend on anything
 * VM-specific; hv-firecracker.c builds the calls.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "drivers/fc-http.h"
#include "util/alloc.h"
#include "util/cleanup.h"

/* Headers larger than this are not an API answer. */
#define MAX_HEADER_BYTES (64 * 1024)

void
fc_http_response_done(struct fc_http_response *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	r->status = 0;
}

static bool
token_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

char *
fc_http_request_format(const char *method, const char *path, const char *body, size_t *ret_len)
{
	char *s;

	assert(token_ok(method));
	assert(token_ok(path) && path[0] == '/');
	if (body)
		s = xasprintf("%s %s HTTP/1.1\r\n"
			      "Host: localhost\r\n"
			      "Accept: application/json\r\n"
			      "Content-Type: application/json\r\n"
			      "Content-Length: %zu\r\n"
			      "\r\n"
			      "%s",
			      method, path, strlen(body), body);
	else
		s = xasprintf("%s %s HTTP/1.1\r\n"
			      "Host: localhost\r\n"
			      "Accept: application/json\r\n"
			      "\r\n",
			      method, path);
	if (ret_len)
		*ret_len = strlen(s);
	return s;
}

static const char *
find_crlfcrlf(const char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return buf + i;
	return NULL;
}

/* Parse a decimal Content-Length value (surrounding blanks allowed). */
static int
parse_length(const char *v, size_t n, size_t *ret)
{
	size_t i = 0, val = 0;
	bool digits = false;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
		if (val > (SIZE_MAX - 9) / 10)
			return -EBADMSG;
		val = val * 10 + (size_t)(v[i] - '0');
		digits = true;
	}
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (!digits || i != n)
		return -EBADMSG;
	*ret = val;
	return 0;
}

static bool
header_is(const char *line, size_t name_len, const char *name)
{
	return name_len == strlen(name) && strncasecmp(line, name, name_len) == 0;
}

static bool
value_has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token);

	for (size_t i = 0; i + tl <= n; i++)
		if (strncasecmp(v + i, token, tl) == 0)
			return true;
	return false;
}

int
fc_http_response_parse(const char *buf, size_t len, bool eof, struct fc_http_response *ret)
{
	const char *end, *p, *line_end, *body;
	size_t content_length = 0, avail, n;
	bool has_length = false;
	int status;

	end = find_crlfcrlf(buf, len);
	if (!end) {
		if (eof || len > MAX_HEADER_BYTES)
			return -EBADMSG;
		return -EAGAIN;
	}
	if ((size_t)(end - buf) > MAX_HEADER_BYTES)
		return -EBADMSG;

	/* Status line: "HTTP/1.x NNN[ reason]". */
	if (end - buf < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' || buf[7] > '9' ||
	    buf[8] != ' ')
		return -EBADMSG;
	for (int i = 9; i < 12; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return -EBADMSG;
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (status < 100 || status > 599)
		return -EBADMSG;
	if (buf[12] != ' ' && buf[12] != '\r')
		return -EBADMSG;

	p = memchr(buf, '\n', (size_t)(end - buf) + 2);
	assert(p);
	p++;
	while (p < end + 2) {
		const char *colon;

		line_end = memchr(p, '\r', (size_t)(end + 2 - p));
		assert(line_end);
		if (line_end[1] != '\n')
			return -EBADMSG;
		if (line_end == p)
			break;
		colon = memchr(p, ':', (size_t)(line_end - p));
		if (!colon || colon == p)
			return -EBADMSG;
		if (header_is(p, (size_t)(colon - p), "content-length")) {
			size_t v;

			if (parse_length(colon + 1, (size_t)(line_end - colon - 1), &v) < 0)
				return -EBADMSG;
			if (has_length && v != content_length)
				return -EBADMSG;
			content_length = v;
			has_length = true;
		} else if (header_is(p, (size_t)(colon - p), "transfer-encoding")) {
			if (value_has_token(colon + 1, (size_t)(line_end - colon - 1), "chunked"))
				return -EPROTONOSUPPORT;
		}
		p = line_end + 2;
	}

	body = end + 4;
	avail = len - (size_t)(body - buf);
	if (status < 200 || status == 204 || status == 304)
		n = 0;
	else if (has_length) {
		if (avail < content_length)
			return eof ? -EBADMSG : -EAGAIN;
		n = content_length;
	} else {
		if (!eof)
			return -EAGAIN;
		n = avail;
	}

	ret->status = status;
	ret->body = xstrndup(body, n);
	ret->body_len = n;
	return 0;
}

char *
fc_http_fault_message(const char *body, size_t len)
{
	json_t *root, *msg;
	char *s = NULL;

	if (!body || len == 0)
		return NULL;
	root = json_loadb(body, len, 0, NULL);
	if (!root)
		return NULL;
	msg = json_is_object(root) ? json_object_get(root, "fault_message") : NULL;
	if (json_is_string(msg))
		s = xstrdup(json_string_value(msg));
	json_decref(root);
	return s;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
remaining_ms(uint64_t deadline)
{
	uint64_t now = mono_ms();

	if (now >= deadline)
		return 0;
	return deadline - now > INT32_MAX ? INT32_MAX : (int)(deadline - now);
}

static int
fill_addr(const char *socket_path, struct sockaddr_un *sa)
{
	size_t n = strlen(socket_path);

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, socket_path, n);
	return 0;
}

/* Connect, retrying while the listener's backlog is full, until deadline. */
static int
connect_unix(const char *socket_path, uint64_t deadline, int *ret_fd)
{
	struct sockaddr_un sa;
	int r;

	r = fill_addr(socket_path, &sa);
	if (r < 0)
		return r;
	for (;;) {
		_cleanup_close_ int fd = -EBADF;

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			*ret_fd = TAKE_FD(fd);
			return 0;
		}
		r = -errno;
		if (r != -EAGAIN)
			return r;
		if (remaining_ms(deadline) == 0)
			return -ETIMEDOUT;
		(void)poll(NULL, 0, 10);
	}
}

bool
fc_http_socket_ready(const char *socket_path)
{
	_cleanup_close_ int fd = -EBADF;

	return connect_unix(socket_path, mono_ms(), &fd) == 0;
}

static int
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	for (;;) {
		int t = remaining_ms(deadline);

		if (t == 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, t);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

static int
answer_error(struct error **err, int r, const char *method, const char *path)
{
	const char *what = r == -ECONNRESET ? "connection closed without an answer" :
			   r == -EPROTONOSUPPORT ? "chunked answer not supported" :
			   "malformed answer";

	return error_set(err, r, "%s %s: %s", method, path, what);
}

int
fc_http_call(const char *socket_path, const char *method, const char *path, const char *body,
	     unsigned timeout_ms, struct fc_http_response *ret, struct error **err)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *req = NULL, *buf = NULL;
	size_t req_len, sent = 0, len = 0, cap = 0;
	uint64_t deadline = mono_ms() + timeout_ms;
	bool eof = false;
	int r;

	r = connect_unix(socket_path, deadline, &fd);
	if (r < 0)
		return error_set(err, r, "connect '%s': %s", socket_path, strerror(-r));

	req = fc_http_request_format(method, path, body, &req_len);
	while (sent < req_len) {
		ssize_t n;

		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return error_set(err, r, "%s %s: send: %s", method, path,
					 r == -ETIMEDOUT ? "timed out" : strerror(-r));
		n = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			r = -errno;
			return error_set(err, r, "%s %s: send: %s", method, path, strerror(-r));
		}
		sent += (size_t)n;
	}

	for (;;) {
		ssize_t n;

		if (len > 0 || eof) {
			struct fc_http_response resp = { 0 };

			r = fc_http_response_parse(buf, len, eof, &resp);
			if (r == 0) {
				*ret = resp;
				return 0;
			}
			if (r != -EAGAIN)
				return answer_error(err, eof && len == 0 ? -ECONNRESET : r, method,
						    path);
		}
		if (eof)
			return answer_error(err, -ECONNRESET, method, path);
		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return error_set(err, r, "%s %s: %s", method, path,
					 r == -ETIMEDOUT ? "no answer in time" : strerror(-r));
		if (cap - len < 4096) {
			if (cap >= FC_HTTP_MAX_RESPONSE)
				return error_set(err, -EMSGSIZE,
						 "%s %s: answer larger than %d bytes", method,
						 path, FC_HTTP_MAX_RESPONSE);
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap + 1);
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			r = -errno;
			if (r == -ECONNRESET && len > 0) {
				eof = true;
				continue;
			}
			return error_set(err, r, "%s %s: recv: %s", method, path, strerror(-r));
		}
		if (n == 0)
			eof = true;
		len += (size_t)n;
	}
}
