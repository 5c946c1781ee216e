/* JSON-lines logger with per-thread buffers (see log.h). */
#include "core/log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

enum log_level log__min_level = LOG_INFO;
static int log_fd = 2;

#define LOG_DEFER_LIMIT (16 * 1024)

static _Thread_local struct buf tl_buf = BUF_INIT;
static _Thread_local bool tl_defer;
static _Thread_local time_t tl_sec = -1;
static _Thread_local char tl_stamp[24]; /* "YYYY-MM-DDTHH:MM:SS" */

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level lvl)
{
    log__min_level = lvl;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level lvl)
{
    return level_names[lvl];
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

void log_defer_flush(bool defer)
{
    tl_defer = defer;
    if (!defer)
        log_flush();
}

void log_flush(void)
{
    size_t off = 0;
    while (off < tl_buf.len) {
        ssize_t n = write(log_fd, tl_buf.data + off, tl_buf.len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* nowhere to report a failing stderr */
        }
        off += (size_t)n;
    }
    buf_reset(&tl_buf);
}

void log_thread_release(void)
{
    log_flush();
    buf_release(&tl_buf);
}

static void append_time(struct buf *b)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != tl_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(tl_stamp, sizeof(tl_stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        tl_sec = tv.tv_sec;
    }
    buf_printf(b, "{\"time\":\"%s.%03dZ\"", tl_stamp, (int)(tv.tv_usec / 1000));
}

void log__write(enum log_level lvl, const char *msg, ...)
{
    struct buf *b = &tl_buf;
    append_time(b);
    buf_puts(b, ",\"level\":\"");
    buf_puts(b, level_names[lvl]);
    buf_puts(b, "\",\"msg\":");
    buf_append_json_string(b, msg, strlen(msg));

    va_list ap;
    va_start(ap, msg);
    for (;;) {
        int type = va_arg(ap, int);
        if (type == LOG__T_END)
            break;
        const char *key = va_arg(ap, const char *);
        buf_putc(b, ',');
        buf_append_json_string(b, key, strlen(key));
        buf_putc(b, ':');
        switch (type) {
        case LOG__T_STR: {
            const char *v = va_arg(ap, const char *);
            if (v)
                buf_append_json_string(b, v, strlen(v));
            else
                buf_puts(b, "null");
            break;
        }
        case LOG__T_STRN: {
            const char *v = va_arg(ap, const char *);
            size_t n = va_arg(ap, size_t);
            buf_append_json_string(b, v ? v : "", v ? n : 0);
            break;
        }
        case LOG__T_INT: buf_append_i64(b, va_arg(ap, int64_t)); break;
        case LOG__T_UINT: buf_append_u64(b, va_arg(ap, uint64_t)); break;
        case LOG__T_DBL: {
            double d = va_arg(ap, double);
            if (isfinite(d))
                buf_printf(b, "%.6g", d);
            else
                buf_puts(b, "null"); /* JSON has no NaN or infinity */
            break;
        }
        case LOG__T_BOOL: buf_puts(b, va_arg(ap, int) ? "true" : "false"); break;
        case LOG__T_RAW: buf_puts(b, va_arg(ap, const char *)); break;
        default: break;
        }
    }
    va_end(ap);
    buf_append(b, "}\n", 2);
    if (!tl_defer || b->len >= LOG_DEFER_LIMIT)
        log_flush();
}
