/* The libuv transport for http_conn, and the I/O threads (see server.h).
 *
 * Each I/O thread owns: a loop, a listening socket, the connections it accepted, a task queue
 * fed by other threads (mutex + uv_async_t wakeup), and a 64 KiB read buffer that every
 * connection of the thread shares: a read is parsed before the next one starts, so idle
 * connections hold no read memory at all. */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "http/stats.h"

#define READ_BUF_SIZE (64 * 1024)
/* Lingering close: after an error answer, how long and how much a client may go on sending
 * (read and dropped) before the socket is closed. Closing at once would reset the connection
 * and could destroy the answer before the client reads it. */
#define LINGER_MS 3000
#define LINGER_MAX_BYTES (16 * 1024 * 1024)
#define LISTEN_BACKLOG 4096

struct task {
    http_task_fn *fn;
    void *arg;
    struct task *next;
};

struct client;

struct io_thread {
    struct http_server *srv;
    unsigned index;
    uv_thread_t tid;
    uv_loop_t loop;
    uv_tcp_t listener;
    bool listening;           /* listener handle open */
    uv_async_t wakeup;        /* tasks posted */
    uv_prepare_t flush;       /* flush deferred log lines before the loop blocks */
    pthread_mutex_t lock;     /* guards tasks, stopped */
    struct task *tasks, *tasks_tail;
    bool stopped;             /* no more tasks accepted */
    struct http_worker worker;
    struct client *clients;   /* open connections, doubly linked */
    unsigned n_clients;
    bool draining;
    bool reported_drained;
    char readbuf[READ_BUF_SIZE];
};

struct client {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct http_conn conn;
    struct io_thread *th;
    struct client *prev, *next;
    uv_write_t wreq;
    struct buf wbuf;          /* bytes a pending uv_write owns */
    uv_shutdown_t shutdown;   /* FIN, when lingering */
    size_t linger_bytes;      /* dropped while lingering */
    int open_handles;         /* tcp and timer; freed when both are closed */
    bool closing;             /* the connection asked to close: no more http_conn calls */
    bool lingering;           /* closing: draining the client's input before the close */
    bool handles_closing;     /* uv_close called */
    bool peer_eof;            /* the client closed its side */
};

struct http_server {
    struct http_server_config cfg;
    char *listen;
    struct http_shared *shared;
    struct io_thread *threads;
    unsigned n;
    struct http_stats **stats;   /* one shard per thread */
    atomic_uint_fast64_t connections;
    metric_u64 accepted;
    metric_u64 rejected;
    atomic_uint drained_threads;
    unsigned n_started;          /* threads running, from index 0 */
};

/* ---- transport --------------------------------------------------------------------------- */

static void client_closed(uv_handle_t *h)
{
    struct client *c = h->data;
    if (--c->open_handles > 0)
        return;
    struct io_thread *th = c->th;
    http_conn_release(&c->conn);
    buf_release(&c->wbuf);
    if (c->prev)
        c->prev->next = c->next;
    else
        th->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    th->n_clients--;
    atomic_fetch_sub(&th->srv->connections, 1);
    free(c);
    if (th->draining && th->n_clients == 0 && !th->reported_drained) {
        th->reported_drained = true;
        atomic_fetch_add(&th->srv->drained_threads, 1);
    }
}

static void close_now(struct client *c)
{
    c->closing = true;
    if (c->handles_closing)
        return;
    c->handles_closing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, client_closed);
    uv_close((uv_handle_t *)&c->timer, client_closed);
}

/* send() straight to the socket when libuv holds nothing for it: the same as uv_try_write,
 * with the system call that goes to the socket without the file layer's write path. */
static ssize_t t_try_write(struct http_conn *conn, const char *data, size_t len)
{
    struct client *c = conn->transport_arg;
    if (c->closing)
        return -1;
    if (c->tcp.write_queue_size > 0)
        return 0;
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0)
        return -1;
    for (;;) {
        ssize_t n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return 0; /* as uv_try_write: the socket takes nothing now */
        if (errno != EINTR)
            return -1;
    }
}

static void t_prefetch(const struct http_conn *conn)
{
    const struct client *c = conn->transport_arg;
    __builtin_prefetch(&c->closing);
    __builtin_prefetch(&c->tcp.flags);
    __builtin_prefetch(&c->tcp.write_queue_size);
    __builtin_prefetch(&c->tcp.io_watcher);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static void on_linger_timeout(uv_timer_t *t)
{
    close_now(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct client *c = req->data;
    if (status < 0)
        close_now(c); /* also when cancelled by close_now itself: idempotent */
}

static void t_close(struct http_conn *conn)
{
    struct client *c = conn->transport_arg;
    if (c->closing)
        return;
    c->closing = true;
    if (!conn->linger || c->peer_eof) {
        close_now(c);
        return;
    }
    /* Send FIN once the answer is written, then read and drop what the client still sends
     * until it closes too, for a bounded time and amount. */
    c->lingering = true;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        close_now(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
}

static void on_write(uv_write_t *w, int status)
{
    struct client *c = w->data;
    buf_release(&c->wbuf);
    if (c->closing)
        return;
    if (status < 0) {
        close_now(c);
        return;
    }
    http_conn_write_done(&c->conn);
}

static int t_write(struct http_conn *conn, struct buf *out)
{
    struct client *c = conn->transport_arg;
    if (c->closing)
        return -1;
    uv_buf_t b = uv_buf_init(out->data, (unsigned)out->len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)out->len)
        return 0;
    if (n < 0 && n != UV_EAGAIN)
        return -1;
    size_t done = n > 0 ? (size_t)n : 0;
    c->wbuf = *out; /* take the buffer, remember where the unwritten part starts */
    buf_init(out);
    b = uv_buf_init(c->wbuf.data + done, (unsigned)(c->wbuf.len - done));
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        buf_release(&c->wbuf);
        return -1;
    }
    return 1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct client *c = h->data;
    *b = uv_buf_init(c->th->readbuf, READ_BUF_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct client *c = s->data;
    if (c->lingering) {
        if (nread < 0 || (c->linger_bytes += (size_t)nread) > LINGER_MAX_BYTES)
            close_now(c);
        return;
    }
    if (nread > 0) {
        http_conn_feed(&c->conn, b->base, (size_t)nread);
    } else if (nread == UV_EOF) {
        c->peer_eof = true;
        http_conn_eof(&c->conn);
    } else if (nread < 0) {
        close_now(c);
    }
}

static void t_set_reading(struct http_conn *conn, bool on)
{
    struct client *c = conn->transport_arg;
    if (c->closing)
        return;
    if (on)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_timer(uv_timer_t *t)
{
    struct client *c = t->data;
    http_conn_timeout(&c->conn);
}

static void t_set_timer(struct http_conn *conn, enum http_timer which)
{
    struct client *c = conn->transport_arg;
    if (c->closing)
        return;
    const struct http_server_config *cfg = &c->th->srv->cfg;
    uint64_t ms;
    switch (which) {
    case HTTP_TIMER_HEADER: ms = cfg->header_timeout_ms; break;
    case HTTP_TIMER_BODY: ms = cfg->body_timeout_ms; break;
    case HTTP_TIMER_IDLE: ms = cfg->idle_timeout_ms; break;
    case HTTP_TIMER_NONE:
    default:
        uv_timer_stop(&c->timer);
        return;
    }
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

static int t_peer(struct http_conn *conn, char *out, size_t len)
{
    struct client *c = conn->transport_arg;
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return uv_ip4_name((struct sockaddr_in *)&ss, out, len) < 0 ? -1 : 0;
    if (ss.ss_family == AF_INET6)
        return uv_ip6_name((struct sockaddr_in6 *)&ss, out, len) < 0 ? -1 : 0;
    return -1;
}

static const struct http_transport transport = {
    .write = t_write,
    .try_write = t_try_write,
    .prefetch = t_prefetch,
    .set_reading = t_set_reading,
    .set_timer = t_set_timer,
    .close = t_close,
    .peer = t_peer,
};

/* ---- accepting --------------------------------------------------------------------------- */

static void unaccepted_closed(uv_handle_t *h)
{
    struct client *c = h->data;
    if (--c->open_handles == 0)
        free(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct io_thread *th = listener->data;
    if (status < 0) {
        log_warn("accept failed", LOG_S("error", uv_strerror(status)));
        return;
    }
    struct client *c = xcalloc(1, sizeof(*c));
    c->th = th;
    buf_init(&c->wbuf);
    uv_tcp_init(&th->loop, &c->tcp);
    uv_timer_init(&th->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open_handles = 2;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, unaccepted_closed);
        uv_close((uv_handle_t *)&c->timer, unaccepted_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->next = th->clients;
    if (th->clients)
        th->clients->prev = c;
    th->clients = c;
    th->n_clients++;
    uint64_t open = atomic_fetch_add(&th->srv->connections, 1) + 1;
    http_conn_init(&c->conn, &th->worker, &transport, c);
    if (open > th->srv->cfg.max_connections) {
        metric_add_shared(&th->srv->rejected, 1);
        http_conn_reject(&c->conn, 503, "too_many_connections",
                         "Too many open connections; try again later");
        return;
    }
    metric_add_shared(&th->srv->accepted, 1);
    http_conn_start(&c->conn);
}

/* ---- threads and tasks ------------------------------------------------------------------- */

static void run_tasks(uv_async_t *a)
{
    struct io_thread *th = a->data;
    pthread_mutex_lock(&th->lock);
    struct task *t = th->tasks;
    th->tasks = th->tasks_tail = NULL;
    pthread_mutex_unlock(&th->lock);
    while (t) {
        struct task *next = t->next;
        t->fn(t->arg);
        free(t);
        t = next;
    }
}

static void flush_logs(uv_prepare_t *p)
{
    (void)p;
    log_flush();
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Closes every handle of a stopped thread: clients through the transport (which frees them),
 * then the thread's own handles. */
static void close_thread_handles(struct io_thread *th)
{
    for (struct client *c = th->clients; c; c = c->next)
        close_now(c);
    uv_walk(&th->loop, close_handle, NULL);
}

static void thread_main(void *arg)
{
    struct io_thread *th = arg;
    char name[16];
    snprintf(name, sizeof(name), "io-%u", th->index);
    pthread_setname_np(pthread_self(), name); /* shows in top -H and perf */
    log_defer_flush(true);
    uv_run(&th->loop, UV_RUN_DEFAULT);
    /* Stopped: refuse new tasks, run those already posted so their owners can release what
     * they hold, then close everything. */
    pthread_mutex_lock(&th->lock);
    th->stopped = true;
    pthread_mutex_unlock(&th->lock);
    run_tasks(&th->wakeup);
    close_thread_handles(th);
    uv_run(&th->loop, UV_RUN_DEFAULT);
    log_thread_release();
}

int http_server_post(struct http_server *s, unsigned thread, http_task_fn *fn, void *arg)
{
    if (thread >= s->n)
        return -1;
    struct io_thread *th = &s->threads[thread];
    struct task *t = xmalloc(sizeof(*t));
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&th->lock);
    if (th->stopped) {
        pthread_mutex_unlock(&th->lock);
        free(t);
        return -1;
    }
    if (th->tasks_tail)
        th->tasks_tail->next = t;
    else
        th->tasks = t;
    th->tasks_tail = t;
    uv_async_send(&th->wakeup);
    pthread_mutex_unlock(&th->lock);
    return 0;
}

static int open_listener(const struct http_server_config *cfg, bool reuseport, char *err,
                         size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->listen, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)cfg->port);
        sl = sizeof(*in4);
    } else if (inet_pton(AF_INET6, cfg->listen, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)cfg->port);
        sl = sizeof(*in6);
    } else {
        snprintf(err, errlen, "invalid listen address \"%s\"", cfg->listen);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        snprintf(err, errlen, "SO_REUSEPORT: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || (reuseport && listen(fd, LISTEN_BACKLOG) < 0)) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", cfg->listen, cfg->port,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

struct http_server *http_server_new(const struct http_server_config *cfg,
                                    struct http_shared *shared, char *err, size_t errlen)
{
    /* Probe without SO_REUSEPORT first: a port held by anyone, including another instance
     * that uses SO_REUSEPORT itself, fails here instead of being silently shared. */
    int probe = open_listener(cfg, false, err, errlen);
    if (probe < 0)
        return NULL;
    close(probe);

    struct http_server *s = xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    s->listen = xstrdup(cfg->listen);
    s->cfg.listen = s->listen;
    s->shared = shared;
    s->n = cfg->threads ? cfg->threads : 1;
    s->threads = xcalloc(s->n, sizeof(*s->threads));
    s->stats = xcalloc(s->n, sizeof(*s->stats));
    size_t n_routes = router_count(shared->router);
    for (unsigned i = 0; i < s->n; i++) {
        struct io_thread *th = &s->threads[i];
        th->srv = s;
        th->index = i;
        s->stats[i] = http_stats_new(n_routes);
        http_worker_init(&th->worker, shared, i, s->stats[i]);
        pthread_mutex_init(&th->lock, NULL);
        uv_loop_init(&th->loop);
        th->loop.data = th;
        uv_async_init(&th->loop, &th->wakeup, run_tasks);
        th->wakeup.data = th;
        uv_prepare_init(&th->loop, &th->flush);
        uv_prepare_start(&th->flush, flush_logs);
        uv_unref((uv_handle_t *)&th->flush);
        int fd = open_listener(cfg, true, err, errlen);
        if (fd < 0)
            goto fail;
        uv_tcp_init(&th->loop, &th->listener);
        th->listener.data = th;
        int rc = uv_tcp_open(&th->listener, fd);
        if (rc < 0)
            close(fd); /* not the handle's yet */
        else
            rc = uv_listen((uv_stream_t *)&th->listener, LISTEN_BACKLOG, on_connection);
        th->listening = true;
        if (rc < 0) {
            snprintf(err, errlen, "cannot listen on %s port %d: %s", cfg->listen, cfg->port,
                     uv_strerror(rc));
            goto fail;
        }
    }
    return s;
fail:
    http_server_free(s);
    return NULL;
}

int http_server_start(struct http_server *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        if (uv_thread_create(&s->threads[i].tid, thread_main, &s->threads[i]) != 0)
            return -1; /* http_server_stop joins the ones that started */
        s->n_started = i + 1;
    }
    return 0;
}

static void drain_task(void *arg)
{
    struct io_thread *th = arg;
    th->draining = true;
    if (th->listening) {
        uv_close((uv_handle_t *)&th->listener, NULL);
        th->listening = false;
    }
    for (struct client *c = th->clients, *next; c; c = next) {
        next = c->next;
        if (!c->closing)
            http_conn_drain(&c->conn);
    }
    if (th->n_clients == 0 && !th->reported_drained) {
        th->reported_drained = true;
        atomic_fetch_add(&th->srv->drained_threads, 1);
    }
}

void http_server_drain(struct http_server *s)
{
    atomic_store(&s->shared->draining, true);
    for (unsigned i = 0; i < s->n; i++)
        http_server_post(s, i, drain_task, &s->threads[i]);
}

bool http_server_drained(struct http_server *s)
{
    return atomic_load(&s->drained_threads) >= s->n;
}

static void stop_task(void *arg)
{
    struct io_thread *th = arg;
    uv_stop(&th->loop);
}

void http_server_stop(struct http_server *s)
{
    if (!s->n_started)
        return;
    for (unsigned i = 0; i < s->n_started; i++)
        http_server_post(s, i, stop_task, &s->threads[i]);
    for (unsigned i = 0; i < s->n_started; i++) {
        struct io_thread *th = &s->threads[i];
        uv_thread_join(&th->tid);
    }
    s->n_started = 0;
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    http_server_stop(s);
    for (unsigned i = 0; i < s->n; i++) {
        struct io_thread *th = &s->threads[i];
        if (th->loop.data) {
            close_thread_handles(th);
            uv_run(&th->loop, UV_RUN_DEFAULT);
            uv_loop_close(&th->loop);
            pthread_mutex_destroy(&th->lock);
        }
        http_stats_free(s->stats[i]);
    }
    free(s->stats);
    free(s->threads);
    free(s->listen);
    free(s);
}

unsigned http_server_threads(const struct http_server *s)
{
    return s->n;
}

uint64_t http_server_connections(const struct http_server *s)
{
    return atomic_load(&((struct http_server *)s)->connections);
}

void http_server_collect_metrics(struct buf *out, void *arg)
{
    struct http_server *s = arg;
    http_stats_render(out, s->shared->router, s->stats, s->n);
    metrics_family(out, "reactor_http_connections", "gauge", "Open client connections.");
    buf_printf(out, "reactor_http_connections %llu\n",
               (unsigned long long)http_server_connections(s));
    metrics_family(out, "reactor_http_connections_accepted_total", "counter",
                   "Client connections accepted.");
    buf_printf(out, "reactor_http_connections_accepted_total %llu\n",
               (unsigned long long)metric_get(&s->accepted));
    metrics_family(out, "reactor_http_connections_rejected_total", "counter",
                   "Client connections refused because of the connection limit.");
    buf_printf(out, "reactor_http_connections_rejected_total %llu\n",
               (unsigned long long)metric_get(&s->rejected));
}
