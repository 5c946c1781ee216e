/* A growable byte buffer, the one string builder of the project.
 *
 * Invariants:
 *  - `data` is always NUL-terminated: data[len] == '\0', so it can be used as a C string
 *    when it holds text (it may also hold binary data with embedded NULs).
 *  - A buffer initialised with BUF_INIT (or buf_init) owns no memory until the first append;
 *    `data` then points to a shared empty string, never NULL.
 *  - `cap` is the allocated size minus one (room for the terminator); cap == 0 means nothing
 *    is allocated.
 *
 * Ownership: the buffer owns `data`. buf_release frees it and leaves an empty buffer;
 * buf_detach hands `data` to the caller (free() it) and leaves an empty buffer.
 * Allocation failure aborts (mem.h).
 */
#ifndef REACTOR_CORE_BUF_H
#define REACTOR_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
    char *data; /* len bytes of content, then '\0' */
    size_t len; /* bytes of content */
    size_t cap; /* bytes available for content; 0 = points at the shared empty string */
};

extern char buf__empty[1];
#define BUF_INIT { buf__empty, 0, 0 }

void buf_init(struct buf *b);
void buf_release(struct buf *b);
char *buf_detach(struct buf *b, size_t *len);
/* Makes room for at least `extra` more bytes of content. */
void buf__grow(struct buf *b, size_t extra); /* the allocating part of buf_grow */
static inline void buf_grow(struct buf *b, size_t extra)
{
    if (b->len + extra > b->cap)
        buf__grow(b, extra);
}
/* Empties the buffer but keeps its memory. */
static inline void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->cap) /* never write the shared empty string: other threads read it */
        b->data[0] = '\0';
}
/* Drops the first `n` bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

/* The appends are inline: answers are written a few bytes at a time. */
static inline void buf_append(struct buf *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    buf_grow(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}
static inline void buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}
static inline void buf_putc(struct buf *b, char c)
{
    buf_grow(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void buf_append_u64(struct buf *b, uint64_t v);
void buf_append_i64(struct buf *b, int64_t v);
/* Appends `s` as a JSON string literal with quotes; bytes that are not valid UTF-8 are
 * replaced with U+FFFD so the output is always valid JSON. */
void buf_append_json_string(struct buf *b, const char *s, size_t len);
/* Bytes a JSON string holds as they are: printable ASCII but the quote and the backslash
 * (and DEL, which JSON allows). */
extern const bool json_plain[256];

#endif
