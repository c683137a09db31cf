/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small HTTP/1.1 client for Firecracker's API on its unix socket: one
 * request per connection, Content-Length bodies (Firecracker never answers
 * chunked), every wait bounded with poll().  Formatting and parsing are pure
 * functions so they are tested without a socket.  Used by hv-firecracker.c
 * only; knows nothing about VMs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* Largest answer accepted (Firecracker's are a few hundred bytes). */
#define FC_HTTP_MAX_RESPONSE (1024 * 1024)

struct fc_http_response {
	int status;		/* 100..599 */
	char *body;		/* NUL-terminated, "" when empty; owned */
	size_t body_len;
};

void fc_http_response_done(struct fc_http_response *r);

/*
 * The bytes of one request: "METHOD PATH HTTP/1.1", Host, Accept and, when
 * body is not NULL, Content-Type: application/json and Content-Length.
 * method and path must be free of spaces and control characters (assert).
 * Caller frees; *ret_len gets the length.
 */
char *fc_http_request_format(const char *method, const char *path, const char *body,
			     size_t *ret_len);

/*
 * Parse the answer held in buf[0..len).  eof says the peer closed the
 * connection (needed for an answer that has neither a Content-Length nor a
 * status that forbids a body).  Returns 0 and fills *ret (caller calls
 * fc_http_response_done()), -EAGAIN when more bytes are needed, -EBADMSG
 * for a malformed status line, header or length, -EPROTONOSUPPORT for a
 * chunked answer.  Bytes past the body are ignored.
 */
int fc_http_response_parse(const char *buf, size_t len, bool eof, struct fc_http_response *ret);

/*
 * The "fault_message" string of a Firecracker error body, NULL when the body
 * is not a JSON object holding one.  Caller frees.
 */
char *fc_http_fault_message(const char *body, size_t len);

/*
 * Connect to the unix socket at socket_path, send one request (body may be
 * NULL) and read the whole answer, all within timeout_ms.  Any HTTP status
 * is a success here (the caller decides); errors: -ENAMETOOLONG for a path
 * that does not fit sockaddr_un, the connect errno (-ENOENT, -ECONNREFUSED),
 * -ETIMEDOUT, -EBADMSG/-EPROTONOSUPPORT for a bad answer, -EMSGSIZE for one
 * larger than FC_HTTP_MAX_RESPONSE, -ECONNRESET when the peer closed early.
 */
int fc_http_call(const char *socket_path, const char *method, const char *path,
		 const char *body, unsigned timeout_ms, struct fc_http_response *ret,
		 struct error **err);

/* Can a client connect to socket_path right now?  No request is sent. */
bool fc_http_socket_ready(const char *socket_path);
