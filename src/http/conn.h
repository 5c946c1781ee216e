/* One HTTP/1.1 connection as a state machine, independent of any socket library.
 *
 * The transport (server.c with libuv; the fuzz target with a memory sink) feeds received bytes
 * in with http_conn_feed() and implements four operations: write bytes, start/stop reading,
 * arm a timer, close. Everything HTTP — parsing with http-parser, limits, routing, ordering of
 * pipelined responses, keep-alive, back-pressure, timeouts' answers — happens here.
 *
 * Design:
 *  - Requests move cur (being received) -> queue (received, in order, answered or not) ->
 *    `out` (bytes of answered requests at the head of the queue) -> transport.
 *  - Back-pressure: reading stops while the queue holds max_pipelined requests (the parser is
 *    paused and unparsed bytes wait in `backlog`) and while the transport still holds bytes it
 *    could not write (the client is not reading). Memory per connection is therefore bounded by
 *    the limits: header and body caps, max_pipelined, one read buffer of backlog.
 *  - `closing` means no new request will be read. A connection closes once closing is set and
 *    everything queued has been answered and written. Errors that leave the byte stream
 *    unsynchronised (malformed, too large, timed out) answer and close.
 *  - Re-entrancy: transports never call back into the connection from inside write/close; a
 *    transport completes asynchronous writes later with http_conn_write_done().
 */
#ifndef REACTOR_HTTP_CONN_H
#define REACTOR_HTTP_CONN_H

#include <http_parser.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/buf.h"
#include "core/json.h"
#include "http/http.h"
#include "http/router.h"

struct http_stats;

struct http_limits {
    size_t max_header_bytes;  /* request line + headers */
    size_t max_headers;
    size_t max_body_bytes;
    unsigned max_pipelined;
    struct json_limits json;
};

/* Shared by every I/O thread; read-only after start except `draining`. */
struct http_shared {
    const struct router *router;
    struct http_limits limits;
    atomic_bool draining;     /* shutting down: answer with Connection: close */
    bool access_log;          /* one info line per request */
};

/* Per I/O thread state the connections of that thread share. Only that thread touches it,
 * except `stats`, which /metrics reads from any thread (see stats.h). */
struct http_worker {
    const struct http_shared *shared;
    unsigned index;           /* I/O thread number */
    struct http_stats *stats;
    uint64_t rng[2];          /* xorshift128+ state for request ids */
    time_t date_sec;          /* second `date` was formatted for */
    char date[48];            /* "Date: ...\r\n" */
    uint64_t next_conn_id;
};

enum http_timer { HTTP_TIMER_NONE, HTTP_TIMER_HEADER, HTTP_TIMER_BODY, HTTP_TIMER_IDLE };

struct http_transport {
    /* Write out->data[0..len). Return 0 if all of it was written; 1 if the transport took what
     * it could not write yet (leaving `out` empty) and will call http_conn_write_done() once it
     * is written; -1 if the connection is broken. */
    int (*write)(struct http_conn *c, struct buf *out);
    /* Optional. Writes what it can of data[0..len) now, without keeping or queueing anything:
     * returns the bytes written (0..len), or -1 if the connection is broken. For bytes shared
     * with other connections (a push frame); the caller queues the rest through write(). */
    ssize_t (*try_write)(struct http_conn *c, const char *data, size_t len);
    /* Optional. Brings what try_write reads into the cache (a hint: it changes nothing). */
    void (*prefetch)(const struct http_conn *c);
    void (*set_reading)(struct http_conn *c, bool on);
    void (*set_timer)(struct http_conn *c, enum http_timer t);
    /* Close the connection; the transport calls http_conn_release() once it is gone. */
    void (*close)(struct http_conn *c);
    /* The peer's address as text into out (NUL-terminated): 0, or -1 when unknown. Optional. */
    int (*peer)(struct http_conn *c, char *out, size_t len);
};

/* A protocol that takes the connection over after a 101 answer (http_request_upgrade): from
 * start() on, received bytes, write completions, EOF and drain go to it instead of HTTP, and
 * it writes and closes through the transport (c->t) itself. release() is called once, when
 * the connection is gone, whether or not start() was. */
struct http_upgrade {
    void (*start)(void *session, struct http_conn *c);
    void (*feed)(void *session, const char *data, size_t len);
    void (*write_done)(void *session);
    void (*eof)(void *session);
    void (*drain)(void *session);
    void (*release)(void *session);
};

struct http_conn {
    http_parser parser;
    struct http_worker *worker;
    const struct http_transport *t;
    void *transport_arg;          /* for the transport's own use */
    uint64_t id;
    struct http_request *cur;     /* being received */
    struct http_request *head;    /* received, not yet moved to `out`, in order */
    struct http_request *tail;
    unsigned n_queued;
    struct buf out;               /* answered bytes not yet handed to the transport */
    struct buf backlog;           /* received bytes not parsed yet (parser paused) */
    size_t head_bytes;            /* request line + headers of cur so far */
    int last_header_cb;           /* 0 none, 1 field, 2 value */
    int err_status;               /* set by a callback that rejects the request */
    const char *err_code;
    const char *err_msg;
    enum http_timer timer;        /* wanted */
    bool timer_dirty;             /* `timer` changed since last told to the transport */
    bool reading;                 /* as last told to the transport */
    bool in_feed;                 /* inside http_conn_feed */
    bool paused;                  /* parser paused: too many queued */
    bool write_pending;           /* transport holds unwritten bytes */
    bool closing;                 /* read no new request */
    bool close_after_write;       /* close once `out` and pending writes are done */
    bool closed;                  /* transport close requested */
    bool linger;                  /* closing after an error while the client may still be
                                   * sending: the transport should drain before closing */
    bool upgrading;               /* a handler accepted an upgrade: keep what follows it */
    bool up_started;              /* `up` owns the connection */
    const struct http_upgrade *up; /* set once the 101 answer is collected */
    void *up_session;
};

void http_worker_init(struct http_worker *w, const struct http_shared *shared, unsigned index,
                      struct http_stats *stats);

void http_conn_init(struct http_conn *c, struct http_worker *w, const struct http_transport *t,
                    void *transport_arg);
/* Starts the connection: tells the transport to read and arms the idle timer. */
void http_conn_start(struct http_conn *c);
/* Bytes received. */
void http_conn_feed(struct http_conn *c, const char *data, size_t len);
/* An asynchronous write (write() returned 1) has completed. */
void http_conn_write_done(struct http_conn *c);
/* The timer last set has expired. */
void http_conn_timeout(struct http_conn *c);
/* The server is shutting down: finish what was received, then close. */
void http_conn_drain(struct http_conn *c);
/* The peer closed (EOF) or the socket failed: no more bytes will come. */
void http_conn_eof(struct http_conn *c);
/* The connection is gone: free everything, orphan deferred requests. */
void http_conn_release(struct http_conn *c);
/* Answers a request and closes: used by the transport when it must refuse a connection. */
void http_conn_reject(struct http_conn *c, int status, const char *code, const char *message);

/* The peer's address (see http_transport.peer): 0, or -1 when unknown. */
int http_conn_peer(struct http_conn *c, char *out, size_t len);

/* Internal, for response.c. */
void http__conn_flush(struct http_conn *c);
void http__request_free(struct http_request *r);

#endif
