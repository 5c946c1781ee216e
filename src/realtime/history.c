/* Channel history and all-or-nothing recovery (history.h). */
#include "realtime/history.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <wslay/wslay.h>

#include "core/mem.h"

/* Frames are written by wslay, as ws.c writes every other frame, into the message itself.
 * One context serves every message: a frame handed to it whole leaves it ready for the next,
 * so it is made once (a context is an allocation with its own read buffer) and shared under
 * a lock. */
struct frame_sink {
    char *dst;
    size_t room, len;
};

static pthread_once_t framer_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t framer_lock = PTHREAD_MUTEX_INITIALIZER;
static wslay_frame_context_ptr framer;
static struct frame_sink *framer_sink; /* where the context writes; set under the lock */

static ssize_t framer_send(const uint8_t *data, size_t len, int flags, void *user)
{
    (void)flags;
    (void)user;
    struct frame_sink *s = framer_sink;
    if (len > s->room - s->len)
        return -1;
    memcpy(s->dst + s->len, data, len);
    s->len += len;
    return (ssize_t)len;
}

static void framer_init(void)
{
    static const struct wslay_frame_callbacks callbacks = { framer_send, NULL, NULL };
    if (wslay_frame_context_init(&framer, &callbacks, NULL) != 0)
        mem_fail(0);
}

/* Writes the unmasked final text frame of data[0..len) at dst (room: RT_FRAME_HEAD_MAX +
 * len); returns its length, header included. */
static size_t write_frame(char *dst, const char *data, size_t len)
{
    pthread_once(&framer_once, framer_init);
    struct frame_sink sink = { dst, RT_FRAME_HEAD_MAX + len, 0 };
    struct wslay_frame_iocb io = { .fin = 1, .opcode = WSLAY_TEXT_FRAME, .payload_length = len,
                                   .data = (const uint8_t *)data, .data_length = len };
    pthread_mutex_lock(&framer_lock);
    framer_sink = &sink;
    ssize_t r = wslay_frame_send(framer, &io);
    framer_sink = NULL;
    pthread_mutex_unlock(&framer_lock);
    /* The sink has room for the longest header, so wslay takes all and ends the frame. */
    assert(r == (ssize_t)len && sink.len >= len + 2);
    (void)r;
    return sink.len;
}

struct rt_msg *rt_msg_new(uint64_t offset, int64_t ts_ms, const char *data, size_t len,
                          const char *key, size_t key_len)
{
    struct rt_msg *m = xmalloc(sizeof(*m) + RT_FRAME_HEAD_MAX + len + 1 + key_len + 1);
    atomic_init(&m->refs, 1);
    m->offset = offset;
    m->ts_ms = ts_ms;
    m->len = len;
    m->frame = m->bytes;
    m->frame_len = write_frame(m->bytes, data, len);
    m->data = m->bytes + (m->frame_len - len);
    m->data[len] = '\0';
    m->key = m->bytes + RT_FRAME_HEAD_MAX + len + 1; /* past the room the longest header takes */
    m->key_len = key_len;
    memcpy(m->key, key, key_len);
    m->key[key_len] = '\0';
    return m;
}

struct rt_msg *rt_msg_ref(struct rt_msg *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void rt_msg_unref(struct rt_msg *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}

void rt_history_init(struct rt_history *h, const char *epoch, size_t cap)
{
    memset(h, 0, sizeof(*h));
    strncpy(h->epoch, epoch, RT_EPOCH_MAX);
    h->cap = cap;
}

void rt_history_release(struct rt_history *h)
{
    for (size_t i = 0; i < h->n; i++)
        rt_msg_unref(h->ring[(h->head + i) % h->cap]);
    free(h->ring);
    h->ring = NULL;
    h->n = h->head = 0;
}

static void drop_oldest(struct rt_history *h)
{
    rt_msg_unref(h->ring[h->head]);
    h->head = (h->head + 1) % h->cap;
    h->n--;
}

void rt_history_append(struct rt_history *h, struct rt_msg *m)
{
    assert(m->offset == h->offset + 1);
    h->offset = m->offset;
    if (h->cap == 0) {
        rt_msg_unref(m);
        return;
    }
    if (!h->ring)
        h->ring = xcalloc(h->cap, sizeof(*h->ring));
    if (h->n == h->cap)
        drop_oldest(h);
    h->ring[(h->head + h->n) % h->cap] = m;
    h->n++;
}

void rt_history_expire(struct rt_history *h, int64_t now_ms, int64_t ttl_ms)
{
    while (h->n && h->ring[h->head]->ts_ms < now_ms - ttl_ms)
        drop_oldest(h);
    if (h->n == 0 && h->ring) {
        free(h->ring);
        h->ring = NULL;
        h->head = 0;
    }
}

bool rt_history_recover(struct rt_history *h, uint64_t since_offset, const char *since_epoch,
                        int64_t now_ms, int64_t ttl_ms, struct rt_msg ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (strcmp(since_epoch, h->epoch) != 0 || since_offset > h->offset)
        return false;
    if (since_offset == h->offset)
        return true;
    rt_history_expire(h, now_ms, ttl_ms);
    if (h->n == 0 || h->ring[h->head]->offset > since_offset + 1)
        return false;
    size_t want = (size_t)(h->offset - since_offset);
    assert(want <= h->n);
    struct rt_msg **v = xmalloc(want * sizeof(*v));
    for (size_t i = 0; i < want; i++)
        v[i] = rt_msg_ref(h->ring[(h->head + h->n - want + i) % h->cap]);
    *out = v;
    *n = want;
    return true;
}
