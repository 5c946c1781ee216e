/* The request/response API that route handlers use.
 *
 * A handler is called on the I/O thread that received the request, with the request fully
 * read (headers and body). It must either respond before returning (http_respond*) or call
 * http_request_defer() and respond later *on the same I/O thread*; work done elsewhere (the
 * engine, the engine thread) hands the answer back with http_server_post() (server.h). A handler
 * that returns having done neither gets a 500 and an error log line.
 *
 * Lifetime: the request stays valid until it is responded to. If the client goes away while
 * a deferred request is outstanding, the request becomes an orphan (http_request_orphaned()
 * turns true); responding to an orphan just frees it. Every pointer in the request is borrowed
 * and dies with it.
 *
 * Responses are sent in request order even when handlers answer out of order (pipelining).
 * Every response carries x-request-id (the client's, when it sent a valid one) and Date.
 */
#ifndef REACTOR_HTTP_HTTP_H
#define REACTOR_HTTP_HTTP_H

#include <http_parser.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/router.h"

#define HTTP_REQUEST_ID_MAX 128

struct http_conn;

struct http_header {
    const char *name; /* NUL-terminated, as received (compare case-insensitively) */
    size_t name_len;
    const char *value; /* NUL-terminated, leading/trailing whitespace removed by the parser */
    size_t value_len;
};

struct http_request {
    /* What handlers read. */
    unsigned method;                /* enum http_method */
    unsigned short http_major, http_minor;
    const char *target;             /* request target as received: path and query */
    size_t target_len;
    const char *path;               /* raw (not decoded) path, NUL-terminated */
    size_t path_len;
    const char *query;              /* raw query without '?', "" when none */
    size_t query_len;
    struct http_header *headers;
    size_t n_headers;
    struct buf body;                /* request body, NUL-terminated */
    const struct route *route;      /* the matched route, NULL before routing */
    struct route_match match;       /* path parameters */
    char id[HTTP_REQUEST_ID_MAX + 1]; /* request id, echoed as x-request-id */
    unsigned thread;                /* index of the I/O thread that owns the request */
    void *user;                     /* for the handler's own use */

    /* Private to the HTTP layer. */
    struct http_conn *conn;         /* NULL once orphaned */
    struct http_request *next;      /* queue of the connection, in arrival order */
    struct buf head;                /* raw target and headers, NUL-separated */
    size_t cap_headers;
    uint64_t start_ns;              /* monotonic, when the first byte arrived */
    struct buf resp;                /* status line and headers, without the final CRLF */
    struct buf resp_body;
    size_t resp_headers_mark;       /* end of extra headers added before responding */
    struct buf extra_headers;       /* from http_response_header, "Name: value\r\n" */
    int status;
    bool keep_alive;                /* the client allows the connection to stay open */
    bool close_after;               /* close the connection after this response */
    bool head_only;                 /* HEAD served by a GET route: no body */
    bool deferred;
    bool responded;
    bool continue_owed;             /* Expect: 100-continue, not answered yet */
    /* A streamed response (http_respond_stream), private too. */
    void (*stream_more)(struct http_request *req, void *arg); /* NULL: not streamed */
    void *stream_arg;
    bool stream_chunked;            /* chunked transfer coding (HTTP/1.1) */
    bool stream_started;            /* status and headers moved to the connection */
    bool stream_busy;               /* more was called; no write or end since */
    bool stream_ended;              /* http_stream_end was called */
    const struct http_upgrade *upgrade; /* http_request_upgrade, until the 101 is collected */
    void *upgrade_session;
};

/* The header's value, or NULL. `name` is matched case-insensitively; `len` may be NULL. */
const char *http_request_header(const struct http_request *req, const char *name, size_t *len);
/* A path parameter's decoded value, or NULL. */
const char *http_request_param(const struct http_request *req, const char *name);
/* Looks up a query parameter: 1 and its decoded value appended to out, 0 when absent, -1 when
 * the query string is malformed. */
int http_request_query(const struct http_request *req, const char *key, struct buf *out);
/* Parses the body as JSON within the configured limits. On failure it answers 400 itself
 * (wrong Content-Type, empty body, malformed JSON, limits) and returns NULL. */
json_t *http_request_json(struct http_request *req);
/* The checks http_request_json makes before parsing (Content-Type, a body): 0, or -1 after
 * answering 400. For handlers that read the body themselves (core/jread.h). */
int http_request_json_check(struct http_request *req);
/* The JSON limits of the request's server. */
struct json_limits;
const struct json_limits *http_request_json_limits(const struct http_request *req);

/* The handler will respond later, on this request's I/O thread. */
void http_request_defer(struct http_request *req);
bool http_request_orphaned(const struct http_request *req);

/* The handler accepts a protocol upgrade: it responds 101 next (with its Upgrade and
 * Connection headers), and once that answer is written `session` takes the connection over
 * (conn.h, struct http_upgrade). If the connection goes away first, or the answer is not a
 * 101, up->release(session) is called. Bytes the client sent after the request are kept for
 * the session. */
struct http_upgrade;
void http_request_upgrade(struct http_request *req, const struct http_upgrade *up,
                          void *session);

/* Adds a response header (before responding). `name` and `value` must not contain CR or LF. */
void http_response_header(struct http_request *req, const char *name, const char *value);
void http_respond(struct http_request *req, int status, const char *content_type, const void *body,
                  size_t len);
/* Takes ownership of `json`. */
void http_respond_json(struct http_request *req, int status, json_t *json);
/* Answers {"error": message, "code": code}. */
void http_respond_error(struct http_request *req, int status, const char *code,
                        const char *message);
/* Answers {"error": message, "code": code, "details": details}; takes ownership of details. */
void http_respond_error_details(struct http_request *req, int status, const char *code,
                                const char *message, json_t *details);

/* ---- streamed responses -------------------------------------------------------------------
 * A body produced in pieces, sent with chunked transfer coding (an HTTP/1.0 client gets the
 * bare bytes and the connection closes after them). http_respond_stream answers with the
 * status and headers; from then on `more(req, arg)` is called on the request's I/O thread
 * each time everything written so far has been handed to the socket, starting once the
 * headers have: the producer answers each call, then or later (after work on another thread
 * posted back), with one http_stream_write or with http_stream_end. So a slow client holds
 * the producer back: it is never more than one piece ahead of the socket.
 * If the client goes away, the request is orphaned: a pending or later `more` call sees
 * http_request_orphaned() true, http_stream_write returns -1, and the producer must end the
 * stream (which frees the request). `more` must not be NULL. */
typedef void http_stream_fn(struct http_request *req, void *arg);
void http_respond_stream(struct http_request *req, int status, const char *content_type,
                         http_stream_fn *more, void *arg);
/* Sends data[0..len) as the next piece (len 0 sends nothing and asks for more). 0, or -1
 * when the client is gone (nothing sent: end the stream). */
int http_stream_write(struct http_request *req, const void *data, size_t len);
/* Ends the body and gives the request back: it must not be used after this. `complete` false
 * cuts the body off (no final chunk; the connection closes), so the client can tell it is
 * truncated. */
void http_stream_end(struct http_request *req, bool complete);

const char *http_status_text(int status);

#endif
