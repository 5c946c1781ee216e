/* Channel history and all-or-nothing recovery (history.h). */
#include "realtime/history.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <wslay/wslay.h>

#include "core/mem.h"

/* wslay hands the frame's header to this; the text is not given to it, so nothing else. */
struct head_sink {
    uint8_t bytes[RT_FRAME_HEAD_MAX];
    size_t len;
};

static ssize_t take_head(const uint8_t *data, size_t len, int flags, void *user)
{
    (void)flags;
    struct head_sink *h = user;
    if (len > sizeof(h->bytes) - h->len)
        return -1;
    memcpy(h->bytes + h->len, data, len);
    h->len += len;
    return (ssize_t)len;
}

/* The header of an unmasked final text frame of `len` bytes, as wslay writes it (ws.c frames
 * every other frame with the same library). */
static void frame_head(size_t len, struct head_sink *h)
{
    static const struct wslay_frame_callbacks callbacks = { take_head, NULL, NULL };
    wslay_frame_context_ptr ctx;
    if (wslay_frame_context_init(&ctx, &callbacks, h) != 0)
        mem_fail(0);
    struct wslay_frame_iocb io = { .fin = 1, .opcode = WSLAY_TEXT_FRAME, .payload_length = len };
    ssize_t r = wslay_frame_send(ctx, &io); /* the header only: no data is given */
    wslay_frame_context_free(ctx);
    assert(r == 0 && h->len >= 2);
    (void)r;
}

struct rt_msg *rt_msg_new(uint64_t offset, int64_t ts_ms, const char *data, size_t len,
                          const char *key, size_t key_len)
{
    struct rt_msg *m = xmalloc(sizeof(*m) + RT_FRAME_HEAD_MAX + len + 1 + key_len + 1);
    atomic_init(&m->refs, 1);
    m->offset = offset;
    m->ts_ms = ts_ms;
    m->len = len;
    m->data = m->bytes + RT_FRAME_HEAD_MAX;
    memcpy(m->data, data, len);
    m->data[len] = '\0';
    struct head_sink head = { .len = 0 };
    frame_head(len, &head);
    m->frame = memcpy(m->data - head.len, head.bytes, head.len);
    m->frame_len = head.len + len;
    m->key = m->data + len + 1;
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
