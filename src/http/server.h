/* The HTTP server: I/O threads, each running a libuv loop with its own listening socket on the
 * shared port (SO_REUSEPORT, so the kernel spreads connections across threads with no accept
 * lock), and the bridge other threads use to hand work back to an I/O thread.
 *
 * Life cycle, all from one controlling thread (main):
 *   http_server_new      binds every socket (so a busy port fails before anything starts)
 *   http_server_start    starts the threads
 *   http_server_drain    stops accepting; connections finish what they received, then close
 *   http_server_drained  true once every connection is gone
 *   http_server_stop     closes whatever is left and joins the threads
 *   http_server_free
 * http_server_post may be called from any thread between start and stop.
 */
#ifndef REACTOR_HTTP_SERVER_H
#define REACTOR_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/conn.h"

struct http_server;

struct http_server_config {
    const char *listen;       /* IPv4 or IPv6 literal */
    int port;
    unsigned threads;
    unsigned header_timeout_ms;
    unsigned body_timeout_ms;
    unsigned idle_timeout_ms;
    unsigned max_connections; /* whole process */
};

/* `shared` is borrowed and must outlive the server; its router must be complete. Returns NULL
 * with a message in err when a socket cannot be set up. */
struct http_server *http_server_new(const struct http_server_config *cfg,
                                    struct http_shared *shared, char *err, size_t errlen);
int http_server_start(struct http_server *s);

typedef void http_task_fn(void *arg);
/* Runs fn(arg) on I/O thread `thread` (see http_request.thread) soon. Thread-safe. Returns 0,
 * or -1 when the server is stopped (fn is then never called; the caller keeps arg). */
int http_server_post(struct http_server *s, unsigned thread, http_task_fn *fn, void *arg);

void http_server_drain(struct http_server *s);
bool http_server_drained(struct http_server *s);
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);

unsigned http_server_threads(const struct http_server *s);
uint64_t http_server_connections(const struct http_server *s);
/* A metrics collector (metrics.h) for this server: requests, durations, connections. */
void http_server_collect_metrics(struct buf *out, void *server);

#endif
