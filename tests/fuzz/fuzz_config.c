/* Fuzz target for the configuration parser (src/core/config.c) and the JSON string writer
 * (buf_append_json_string in src/core/buf.c).
 *
 * Input: tokens separated by '\n' or NUL. Tokens before the first empty token are environment
 * strings ("NAME=value"), the rest are argv ("--port 80", "--listen=::1"). Without an empty
 * token everything is argv. The first byte also picks the size of the error buffer. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/mem.h"

#include "fuzz.h"

#define MAX_TOKENS 64

static void check_config(const char *s, size_t size)
{
    char *copy = xmalloc(size + 1);
    memcpy(copy, s, size);
    copy[size] = '\0';

    /* Cut into tokens; the first empty one (not counting a trailing one) ends the env part. */
    char *tok[MAX_TOKENS];
    size_t n_tok = 0, split = MAX_TOKENS + 1;
    for (size_t i = 0; i < size && n_tok < MAX_TOKENS;) {
        size_t j = i;
        while (j < size && copy[j] != '\n' && copy[j] != '\0')
            j++;
        copy[j] = '\0';
        if (j == i && split > MAX_TOKENS)
            split = n_tok;
        else
            tok[n_tok++] = copy + i;
        i = j + 1;
    }
    const char *env[MAX_TOKENS + 1];
    char *argv[MAX_TOKENS + 1];
    size_t n_env = 0;
    int argc = 0;
    for (size_t k = 0; k < n_tok; k++) {
        if (k < split && split <= MAX_TOKENS)
            env[n_env++] = tok[k];
        else
            argv[argc++] = tok[k];
    }
    env[n_env] = NULL;
    argv[argc] = NULL;

    /* Error buffer sizes: none, tiny (truncated messages), normal. */
    unsigned pick = size ? (unsigned char)s[0] % 3 : 2;
    size_t errlen = pick == 0 ? 0 : pick == 1 ? 7 : 256;
    char err[256];
    memset(err, 'x', sizeof(err));
    struct config cfg;
    int rc = config_load(&cfg, n_env ? env : NULL, argc, argv, errlen ? err : NULL, errlen);
    CHECK(rc == 0 || rc == -1);
    if (rc < 0) {
        if (errlen)
            CHECK(memchr(err, '\0', errlen) != NULL && err[0] != 'x');
        CHECK(!cfg.listen && !cfg.data_dir && !cfg.database_url && !cfg.operator_token);
    } else {
        CHECK(cfg.port >= 1 && cfg.port <= 65535);
        CHECK(cfg.threads >= 1 && cfg.threads <= 64);
        CHECK(cfg.listen && cfg.data_dir && *cfg.data_dir && cfg.database_url &&
              cfg.operator_token);
        CHECK(cfg.max_header_bytes >= 1024 && cfg.max_body_bytes >= 1024);
        CHECK(cfg.max_pipelined >= 1 && cfg.max_pipelined <= 4096);
        CHECK(cfg.log_level >= LOG_DEBUG && cfg.log_level <= LOG_ERROR);

        /* What `reactor config` would print is one valid JSON object. */
        struct buf out = BUF_INIT;
        config_to_json(&cfg, &out);
        json_error_t jerr;
        json_t *j = json_loadb(out.data, out.len, 0, &jerr);
        if (!j) {
            fprintf(stderr, "config_to_json: %s in %s\n", jerr.text, out.data);
            abort();
        }
        CHECK(json_is_object(j));
        json_decref(j);
        buf_release(&out);
        config_release(&cfg);
        CHECK(!cfg.listen && !cfg.data_dir);
    }
    free(copy);
}

/* Length of the UTF-8 sequence at p that RFC 3629 allows, or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    uint32_t min, cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void check_json_string(const uint8_t *p, size_t size)
{
    struct buf out = BUF_INIT;
    buf_puts(&out, "[1,"); /* appends, keeps what was there */
    size_t mark = out.len;
    buf_append_json_string(&out, (const char *)p, size);
    CHECK(out.data[out.len] == '\0');

    /* What a JSON reader gets back: the input with each byte that is not part of valid UTF-8
     * replaced by U+FFFD. */
    struct buf want = BUF_INIT;
    for (size_t i = 0; i < size;) {
        size_t n = utf8_len(p + i, size - i);
        if (n == 0) {
            buf_append(&want, "\xef\xbf\xbd", 3);
            i++;
        } else {
            buf_append(&want, p + i, n);
            i += n;
        }
    }

    json_error_t jerr;
    json_t *j =
        json_loadb(out.data + mark, out.len - mark, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j || !json_is_string(j)) {
        fprintf(stderr, "buf_append_json_string: %s in %s\n", jerr.text, out.data + mark);
        abort();
    }
    CHECK(json_string_length(j) == want.len);
    CHECK(memcmp(json_string_value(j), want.data, want.len) == 0);
    json_decref(j);
    CHECK(memcmp(out.data, "[1,", 3) == 0);

    buf_release(&want);
    buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_config((const char *)data, size);
    check_json_string(data, size);
    return 0;
}
