/* A channel's recent messages, for recovery: the push frames with offsets above some point,
 * all or none.
 *
 * A channel's offset is the offset of its last message (0 before the first); its epoch names
 * one life of the channel: a channel created again (after a restart, or after it was dropped
 * for having nobody to listen) has a new epoch, and offsets of another epoch mean nothing.
 * The history keeps the last `cap` messages no older than `ttl_ms`. Recovery from (offset,
 * epoch) returns every message after that offset, in order, when the epoch matches and the
 * history still holds all of them; otherwise it fails and returns nothing.
 *
 * Pure and single-threaded: the hub calls it under its lock. Messages are reference counted
 * because one frame is queued to many connections on several threads. */
#ifndef REACTOR_REALTIME_HISTORY_H
#define REACTOR_REALTIME_HISTORY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "realtime/proto.h"

/* RFC 6455's longest header of an unmasked frame: 2 bytes and a 64-bit length. */
#define RT_FRAME_HEAD_MAX 10

/* One push, serialised once, and framed once: `frame` is the whole unmasked WebSocket text
 * frame (FIN, its header, then `data`), the same bytes for every connection that gets it.
 * `key` is the channel's hub key (app NUL channel). */
struct rt_msg {
    atomic_uint refs;
    uint64_t offset;
    int64_t ts_ms;
    size_t len;                   /* bytes of data (the frame text) */
    size_t key_len;
    char *key;                    /* points into the same allocation */
    char *data;                   /* the text, NUL-terminated; in the same allocation */
    const char *frame;            /* header then data: frame_len bytes */
    size_t frame_len;
    char bytes[];                 /* the frame (header, data, NUL), then the key */
};

/* A message with one reference, data and key copied. */
struct rt_msg *rt_msg_new(uint64_t offset, int64_t ts_ms, const char *data, size_t len,
                          const char *key, size_t key_len);
struct rt_msg *rt_msg_ref(struct rt_msg *m);
void rt_msg_unref(struct rt_msg *m);

struct rt_history {
    uint64_t offset;              /* of the last message; 0 = none yet */
    char epoch[RT_EPOCH_MAX + 1];
    struct rt_msg **ring;         /* allocated with the first message */
    size_t cap, head, n;          /* ring[head] is the oldest of n */
};

void rt_history_init(struct rt_history *h, const char *epoch, size_t cap);
void rt_history_release(struct rt_history *h);
/* Appends a message whose offset must be h->offset + 1; takes the caller's reference. */
void rt_history_append(struct rt_history *h, struct rt_msg *m);
/* Drops messages older than now_ms - ttl_ms. */
void rt_history_expire(struct rt_history *h, int64_t now_ms, int64_t ttl_ms);

/* Recovery after (since_offset, since_epoch): true with the missed messages (new references
 * in *out, *n of them, the array the caller's to free) or false with none. */
bool rt_history_recover(struct rt_history *h, uint64_t since_offset, const char *since_epoch,
                        int64_t now_ms, int64_t ttl_ms, struct rt_msg ***out, size_t *n);

#endif
