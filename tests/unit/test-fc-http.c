/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for src/drivers/fc-http: request bytes, answer parsing,
 * fault_message extraction, and the client against a scripted server on a
 * unix socket (timeouts, early close, limits).
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/fc-http.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"

START_TEST(test_request_with_body)
{
	_cleanup_free_ char *s = NULL;
	size_t len = 0;

	s = fc_http_request_format("PUT", "/boot-source", "{\"kernel_image_path\":\"/k\"}", &len);
	ck_assert_str_eq(s, "PUT /boot-source HTTP/1.1\r\n"
			    "Host: localhost\r\n"
			    "Accept: application/json\r\n"
			    "Content-Type: application/json\r\n"
			    "Content-Length: 26\r\n"
			    "\r\n"
			    "{\"kernel_image_path\":\"/k\"}");
	ck_assert_uint_eq(len, strlen(s));
}
END_TEST

START_TEST(test_request_without_body)
{
	_cleanup_free_ char *s = NULL;

	s = fc_http_request_format("GET", "/", NULL, NULL);
	ck_assert_str_eq(s, "GET / HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n");
}
END_TEST

static int
parse(const char *s, bool eof, struct fc_http_response *r)
{
	return fc_http_response_parse(s, strlen(s), eof, r);
}

START_TEST(test_parse_204)
{
	struct fc_http_response r = { 0 };

	ck_assert_int_eq(parse("HTTP/1.1 204 No Content\r\nServer: Firecracker API\r\n\r\n", false,
			       &r), 0);
	ck_assert_int_eq(r.status, 204);
	ck_assert_str_eq(r.body, "");
	ck_assert_uint_eq(r.body_len, 0);
	fc_http_response_done(&r);
	ck_assert_ptr_null(r.body);
}
END_TEST

START_TEST(test_parse_400_fault)
{
	struct fc_http_response r = { 0 };
	_cleanup_free_ char *fault = NULL;
	const char *s = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
			"content-length: 41\r\n\r\n{\"fault_message\": \"Kernel file missing.\"}"
			"TRAILING";

	ck_assert_int_eq(parse(s, false, &r), 0);
	ck_assert_int_eq(r.status, 400);
	ck_assert_uint_eq(r.body_len, 41);
	ck_assert_str_eq(r.body, "{\"fault_message\": \"Kernel file missing.\"}");
	fault = fc_http_fault_message(r.body, r.body_len);
	ck_assert_str_eq(fault, "Kernel file missing.");
	fc_http_response_done(&r);
}
END_TEST

START_TEST(test_parse_incomplete)
{
	struct fc_http_response r = { 0 };
	const char *full = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\":\"bc\"}";

	/* Every strict prefix needs more bytes; at EOF it is malformed. */
	for (size_t i = 0; i < strlen(full); i++) {
		ck_assert_int_eq(fc_http_response_parse(full, i, false, &r), -EAGAIN);
		ck_assert_int_eq(fc_http_response_parse(full, i, true, &r), -EBADMSG);
	}
	ck_assert_int_eq(parse(full, false, &r), 0);
	ck_assert_str_eq(r.body, "{\"a\":\"bc\"}");
	fc_http_response_done(&r);
}
END_TEST

START_TEST(test_parse_until_eof)
{
	struct fc_http_response r = { 0 };
	const char *s = "HTTP/1.0 500 Internal Server Error\r\n\r\n{\"fault_message\":\"x\"}";

	ck_assert_int_eq(parse(s, false, &r), -EAGAIN);
	ck_assert_int_eq(parse(s, true, &r), 0);
	ck_assert_int_eq(r.status, 500);
	ck_assert_str_eq(r.body, "{\"fault_message\":\"x\"}");
	fc_http_response_done(&r);
}
END_TEST

START_TEST(test_parse_bad)
{
	struct fc_http_response r = { 0 };

	ck_assert_int_eq(parse("HTTP/2 204 No Content\r\n\r\n", false, &r), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 20 No\r\n\r\n", false, &r), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 2040 No\r\n\r\n", false, &r), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 099 Odd\r\n\r\n", false, &r), -EBADMSG);
	ck_assert_int_eq(parse("ICY 200 OK\r\n\r\n", false, &r), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", false, &r), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", false, &r),
			 -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", false, &r),
			 -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
			       false, &r), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab",
			       false, &r), -EBADMSG);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
			       false, &r), -EPROTONOSUPPORT);
	/* Same length twice is fine; the status line may lack a reason. */
	ck_assert_int_eq(parse("HTTP/1.1 200\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
			       false, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ab");
	fc_http_response_done(&r);
}
END_TEST

START_TEST(test_fault_message)
{
	_cleanup_free_ char *a = NULL;

	a = fc_http_fault_message("{\"fault_message\":\"The id from the path does not match\"}",
				  55);
	ck_assert_str_eq(a, "The id from the path does not match");
	ck_assert_ptr_null(fc_http_fault_message("", 0));
	ck_assert_ptr_null(fc_http_fault_message("not json", 8));
	ck_assert_ptr_null(fc_http_fault_message("[\"fault_message\"]", 17));
	ck_assert_ptr_null(fc_http_fault_message("{\"fault_message\":3}", 19));
	ck_assert_ptr_null(fc_http_fault_message("{\"other\":\"x\"}", 13));
}
END_TEST

/* A one-connection server in a child: reads the request, then acts. */
enum script {
	ANSWER,		/* send the canned answer, close */
	SILENT,		/* read, never answer */
	CLOSE,		/* read, close without answering */
	HUGE,		/* endless headers */
};

struct server {
	char dir[64];
	char *path;
	pid_t pid;
	int req_fd;	/* read end: the request the server saw */
};

static void
server_start(struct server *s, enum script what, const char *answer)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, pfd[2];

	strcpy(s->dir, "/tmp/banger-fchttp-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	s->path = xasprintf("%s/api.sock", s->dir);
	strcpy(sa.sun_path, s->path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(pipe(pfd), 0);
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		char buf[4096];
		size_t got = 0;
		int c = accept(lfd, NULL, NULL);

		close(pfd[0]);
		if (c < 0)
			_exit(1);
		/* Read until the end of the headers plus any Content-Length body. */
		for (;;) {
			ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
			char *end, *cl;

			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
			end = strstr(buf, "\r\n\r\n");
			if (!end)
				continue;
			cl = strstr(buf, "Content-Length: ");
			if (!cl || got >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
				break;
		}
		(void)!write(pfd[1], buf, got);
		close(pfd[1]);
		switch (what) {
		case ANSWER:
			(void)!write(c, answer, strlen(answer));
			break;
		case SILENT:
			pause();
			break;
		case CLOSE:
			break;
		case HUGE:
			(void)!write(c, "HTTP/1.1 200 OK\r\n", 17);
			for (int i = 0; i < 20000; i++)
				if (write(c, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaa\r\n", 35) < 0)
					break;
			break;
		}
		close(c);
		_exit(0);
	}
	close(lfd);
	close(pfd[1]);
	s->req_fd = pfd[0];
}

static char *
server_request(struct server *s)
{
	char buf[4096];
	ssize_t n = read(s->req_fd, buf, sizeof(buf) - 1);

	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return xstrdup(buf);
}

static void
server_stop(struct server *s)
{
	(void)kill(s->pid, SIGKILL);
	(void)waitpid(s->pid, NULL, 0);
	close(s->req_fd);
	(void)unlink(s->path);
	(void)rmdir(s->dir);
	free(s->path);
}

START_TEST(test_call_ok)
{
	struct server s;
	struct fc_http_response r = { 0 };
	struct error *err = NULL;
	_cleanup_free_ char *req = NULL;

	server_start(&s, ANSWER, "HTTP/1.1 204 No Content\r\n\r\n");
	ck_assert_int_eq(fc_http_call(s.path, "PUT", "/actions",
				      "{\"action_type\":\"InstanceStart\"}", 2000, &r, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(r.status, 204);
	req = server_request(&s);
	ck_assert_str_eq(req, "PUT /actions HTTP/1.1\r\nHost: localhost\r\n"
			      "Accept: application/json\r\nContent-Type: application/json\r\n"
			      "Content-Length: 31\r\n\r\n{\"action_type\":\"InstanceStart\"}");
	fc_http_response_done(&r);
	server_stop(&s);
}
END_TEST

START_TEST(test_call_fault_body)
{
	struct server s;
	struct fc_http_response r = { 0 };
	struct error *err = NULL;
	_cleanup_free_ char *fault = NULL;

	server_start(&s, ANSWER,
		     "HTTP/1.1 400 Bad Request\r\nContent-Length: 28\r\n\r\n"
		     "{\"fault_message\":\"bad vcpu\"}");
	ck_assert_int_eq(fc_http_call(s.path, "PUT", "/machine-config", "{}", 2000, &r, &err), 0);
	ck_assert_int_eq(r.status, 400);
	fault = fc_http_fault_message(r.body, r.body_len);
	ck_assert_str_eq(fault, "bad vcpu");
	fc_http_response_done(&r);
	server_stop(&s);
}
END_TEST

START_TEST(test_call_timeout)
{
	struct server s;
	struct fc_http_response r = { 0 };
	struct error *err = NULL;

	server_start(&s, SILENT, NULL);
	ck_assert_int_eq(fc_http_call(s.path, "GET", "/", NULL, 200, &r, &err), -ETIMEDOUT);
	ck_assert_str_eq(err->msg, "GET /: no answer in time");
	error_free(err);
	server_stop(&s);
}
END_TEST

START_TEST(test_call_closed)
{
	struct server s;
	struct fc_http_response r = { 0 };
	struct error *err = NULL;

	server_start(&s, CLOSE, NULL);
	ck_assert_int_eq(fc_http_call(s.path, "GET", "/", NULL, 2000, &r, &err), -ECONNRESET);
	ck_assert_str_eq(err->msg, "GET /: connection closed without an answer");
	error_free(err);
	server_stop(&s);
}
END_TEST

START_TEST(test_call_truncated)
{
	struct server s;
	struct fc_http_response r = { 0 };
	struct error *err = NULL;

	server_start(&s, ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"short\":1}");
	ck_assert_int_eq(fc_http_call(s.path, "GET", "/", NULL, 2000, &r, &err), -EBADMSG);
	ck_assert_str_eq(err->msg, "GET /: malformed answer");
	error_free(err);
	server_stop(&s);
}
END_TEST

START_TEST(test_call_huge)
{
	struct server s;
	struct fc_http_response r = { 0 };
	struct error *err = NULL;

	server_start(&s, HUGE, NULL);
	ck_assert_int_eq(fc_http_call(s.path, "GET", "/", NULL, 5000, &r, &err), -EBADMSG);
	error_free(err);
	server_stop(&s);
}
END_TEST

START_TEST(test_call_no_socket)
{
	struct fc_http_response r = { 0 };
	struct error *err = NULL;
	char longpath[200];

	ck_assert_int_eq(fc_http_call("/nonexistent/banger/api.sock", "GET", "/", NULL, 100, &r,
				      &err), -ENOENT);
	ck_assert_str_eq(err->msg,
			 "connect '/nonexistent/banger/api.sock': No such file or directory");
	error_free(err);
	err = NULL;
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(fc_http_call(longpath, "GET", "/", NULL, 100, &r, &err), -ENAMETOOLONG);
	error_free(err);
	ck_assert(!fc_http_socket_ready("/nonexistent/banger/api.sock"));
}
END_TEST

static Suite *
fc_http_suite(void)
{
	Suite *s = suite_create("fc-http");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, test_request_with_body);
	tcase_add_test(tc, test_request_without_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_204);
	tcase_add_test(tc, test_parse_400_fault);
	tcase_add_test(tc, test_parse_incomplete);
	tcase_add_test(tc, test_parse_until_eof);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_fault_message);
	suite_add_tcase(s, tc);

	tc = tcase_create("call");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_call_ok);
	tcase_add_test(tc, test_call_fault_body);
	tcase_add_test(tc, test_call_timeout);
	tcase_add_test(tc, test_call_closed);
	tcase_add_test(tc, test_call_truncated);
	tcase_add_test(tc, test_call_huge);
	tcase_add_test(tc, test_call_no_socket);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fc_http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
