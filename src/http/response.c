/* Building responses and reading requests: the handler-facing half of the HTTP layer
 * (see http.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"
#include "http/conn.h"
#include "http/http.h"
#include "http/url.h"

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 207: return "Multi-Status";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

const char *http_request_header(const struct http_request *req, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
            if (len)
                *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
    return route_match_param(&req->match, name);
}

int http_request_query(const struct http_request *req, const char *key, struct buf *out)
{
    return url_query_get(req->query, req->query_len, key, out);
}

void http_request_defer(struct http_request *req)
{
    req->deferred = true;
}

bool http_request_orphaned(const struct http_request *req)
{
    return req->conn == NULL;
}

void http_request_upgrade(struct http_request *req, const struct http_upgrade *up,
                          void *session)
{
    req->upgrade = up;
    req->upgrade_session = session;
    if (req->conn)
        req->conn->upgrading = true;
}

void http_response_header(struct http_request *req, const char *name, const char *value)
{
    buf_puts(&req->extra_headers, name);
    buf_append(&req->extra_headers, ": ", 2);
    buf_puts(&req->extra_headers, value);
    buf_append(&req->extra_headers, "\r\n", 2);
}

static const char *date_header(struct http_worker *w)
{
    time_t now = time(NULL);
    if (now != w->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->date, sizeof(w->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        w->date_sec = now;
    }
    return w->date;
}

/* The status line and Content-Type of a response. */
static void head_begin(struct http_request *req, int status, const char *content_type)
{
    struct buf *b = &req->resp;
    buf_grow(b, 160 + req->extra_headers.len);
    buf_puts(b, "HTTP/1.1 ");
    buf_append_u64(b, (uint64_t)status);
    buf_putc(b, ' ');
    buf_puts(b, http_status_text(status));
    buf_append(b, "\r\n", 2);
    if (content_type) {
        buf_puts(b, "Content-Type: ");
        buf_puts(b, content_type);
        buf_append(b, "\r\n", 2);
    }
}

/* The headers every response ends with (the connection adds Connection and the blank line). */
static void head_end(struct http_request *req, struct http_conn *c)
{
    struct buf *b = &req->resp;
    buf_puts(b, "x-request-id: ");
    buf_puts(b, req->id);
    buf_append(b, "\r\n", 2);
    buf_puts(b, date_header(c->worker));
    buf_append(b, req->extra_headers.data, req->extra_headers.len);
}

void http_respond(struct http_request *req, int status, const char *content_type, const void *body,
                  size_t len)
{
    if (req->responded)
        return; /* a second answer is a handler bug; the first one stands */
    req->responded = true;
    req->status = status;
    struct http_conn *c = req->conn;
    if (!c) {
        http__request_free(req); /* orphan: nobody to answer */
        return;
    }
    head_begin(req, status, content_type);
    if (status >= 200 && status != 204 && status != 304) { /* RFC 9110 8.6 */
        buf_puts(&req->resp, "Content-Length: ");
        buf_append_u64(&req->resp, len);
        buf_append(&req->resp, "\r\n", 2);
    } else {
        len = 0; /* and no body */
    }
    head_end(req, c);
    buf_append(&req->resp_body, body, len);
    http__conn_flush(c);
}

void http_respond_stream(struct http_request *req, int status, const char *content_type,
                         http_stream_fn *more, void *arg)
{
    if (req->responded)
        return;
    req->responded = true;
    req->deferred = true; /* the producer holds it until http_stream_end */
    req->status = status;
    req->stream_more = more;
    req->stream_arg = arg;
    struct http_conn *c = req->conn;
    if (!c) {
        /* Orphaned already: let the producer see it and end. */
        req->stream_busy = true;
        more(req, arg);
        return;
    }
    head_begin(req, status, content_type);
    req->stream_chunked = req->http_minor >= 1;
    if (req->stream_chunked)
        buf_puts(&req->resp, "Transfer-Encoding: chunked\r\n");
    else
        req->close_after = true; /* the end of the body is the end of the connection */
    head_end(req, c);
    http__conn_flush(c);
}

int http_stream_write(struct http_request *req, const void *data, size_t len)
{
    struct http_conn *c = req->conn;
    if (!c)
        return -1;
    req->stream_busy = false;
    if (len && !req->head_only && req->method != HTTP_HEAD) {
        if (req->stream_chunked) {
            char size[24];
            int n = snprintf(size, sizeof(size), "%zx\r\n", len);
            buf_append(&req->resp_body, size, (size_t)n);
        }
        buf_append(&req->resp_body, data, len);
        if (req->stream_chunked)
            buf_append(&req->resp_body, "\r\n", 2);
    }
    http__conn_flush(c);
    return 0;
}

void http_stream_end(struct http_request *req, bool complete)
{
    struct http_conn *c = req->conn;
    if (!c) {
        http__request_free(req);
        return;
    }
    req->stream_busy = false;
    req->stream_ended = true;
    if (!complete)
        req->close_after = true;
    else if (req->stream_chunked && !req->head_only && req->method != HTTP_HEAD)
        buf_puts(&req->resp_body, "0\r\n\r\n");
    http__conn_flush(c);
}

void http_respond_json(struct http_request *req, int status, json_t *json)
{
    struct buf body = BUF_INIT;
    json_dump_buf(json, &body);
    json_decref(json);
    http_respond(req, status, "application/json", body.data, body.len);
    buf_release(&body);
}

void http_respond_error_details(struct http_request *req, int status, const char *code,
                                const char *message, json_t *details)
{
    json_t *j = json_pack("{s:s, s:s}", "error", message, "code", code);
    if (details)
        json_object_set_new(j, "details", details);
    http_respond_json(req, status, j);
}

void http_respond_error(struct http_request *req, int status, const char *code,
                        const char *message)
{
    http_respond_error_details(req, status, code, message, NULL);
}

int http_request_json_check(struct http_request *req)
{
    size_t ct_len;
    const char *ct = http_request_header(req, "content-type", &ct_len);
    const size_t json_len = strlen("application/json");
    if (!ct || ct_len < json_len || strncasecmp(ct, "application/json", json_len) != 0 ||
        (ct_len > json_len && ct[json_len] != ';' && ct[json_len] != ' ')) {
        http_respond_error(req, 400, "bad_content_type", "Content-Type must be application/json");
        return -1;
    }
    if (req->body.len == 0) {
        http_respond_error(req, 400, "invalid_json", "Request body is empty; a JSON object is expected");
        return -1;
    }
    return 0;
}

const struct json_limits *http_request_json_limits(const struct http_request *req)
{
    return &req->conn->worker->shared->limits.json;
}

json_t *http_request_json(struct http_request *req)
{
    if (http_request_json_check(req) < 0)
        return NULL;
    char err[200];
    /* Handlers parse before deferring, so the connection is there. */
    json_t *j = json_parse_strict(req->body.data, req->body.len, http_request_json_limits(req),
                                  err, sizeof(err));
    if (!j) {
        http_respond_error(req, 400, "invalid_json", err);
        return NULL;
    }
    return j;
}
