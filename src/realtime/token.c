/* HS256 client tokens (see token.h). */
#include "realtime/token.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "realtime/proto.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char header_json[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

void rt_base64url_encode(const void *data, size_t len, struct buf *out)
{
    const unsigned char *p = data;
    size_t i = 0;
    buf_grow(out, (len + 2) / 3 * 4);
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char q[4] = { b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63] };
        buf_append(out, q, 4);
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        char q[2] = { b64[v >> 18], b64[(v >> 12) & 63] };
        buf_append(out, q, 2);
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        char q[3] = { b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63] };
        buf_append(out, q, 3);
    }
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int rt_base64url_decode(const char *s, size_t len, struct buf *out)
{
    if (len % 4 == 1)
        return -1;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_putc(out, (char)((acc >> bits) & 0xff));
        }
    }
    /* Leftover bits must be zero: one encoding per byte string. */
    if (bits && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return 0;
}

int rt_token_app_key(const void *server_secret, size_t len, const char *app_id,
                     unsigned char key[RT_TOKEN_KEY_LEN])
{
    struct buf msg = BUF_INIT;
    buf_printf(&msg, "reactor-token:%s", app_id);
    unsigned int out_len = 0;
    unsigned char *r = HMAC(EVP_sha256(), server_secret, (int)len, (const unsigned char *)msg.data,
                            msg.len, key, &out_len);
    buf_release(&msg);
    return r && out_len == RT_TOKEN_KEY_LEN ? 0 : -1;
}

static int sign(const unsigned char key[RT_TOKEN_KEY_LEN], const char *data, size_t len,
                unsigned char mac[32])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, RT_TOKEN_KEY_LEN, (const unsigned char *)data, len, mac, &n) ||
        n != 32)
        return -1;
    return 0;
}

int rt_token_encode(const struct rt_claims *c, const unsigned char key[RT_TOKEN_KEY_LEN],
                    struct buf *out)
{
    json_t *p = json_object();
    json_object_set_new(p, "sub", json_string(c->sub));
    json_object_set_new(p, "app", json_string(c->app));
    json_object_set_new(p, "iat", json_integer(c->iat));
    json_object_set_new(p, "exp", json_integer(c->exp));
    if (c->n_channels) {
        json_t *a = json_array();
        for (size_t i = 0; i < c->n_channels; i++)
            json_array_append_new(a, json_string(c->channels[i]));
        json_object_set_new(p, "channels", a);
    }
    struct buf payload = BUF_INIT;
    json_dump_buf(p, &payload);
    json_decref(p);

    size_t start = out->len;
    rt_base64url_encode(header_json, sizeof(header_json) - 1, out);
    buf_putc(out, '.');
    rt_base64url_encode(payload.data, payload.len, out);
    buf_release(&payload);
    unsigned char mac[32];
    if (sign(key, out->data + start, out->len - start, mac) < 0)
        return -1;
    buf_putc(out, '.');
    rt_base64url_encode(mac, sizeof(mac), out);
    return 0;
}

/* The three parts of a compact JWS: offsets of the dots. */
static int split(const char *tok, size_t len, size_t *d1, size_t *d2)
{
    const char *a = memchr(tok, '.', len);
    if (!a)
        return -1;
    const char *b = memchr(a + 1, '.', len - (size_t)(a + 1 - tok));
    if (!b || memchr(b + 1, '.', len - (size_t)(b + 1 - tok)))
        return -1;
    *d1 = (size_t)(a - tok);
    *d2 = (size_t)(b - tok);
    return 0;
}

static json_t *decode_json(const char *s, size_t len)
{
    static const struct json_limits lim = { 3, 64 };
    struct buf raw = BUF_INIT;
    json_t *j = NULL;
    char err[128];
    if (rt_base64url_decode(s, len, &raw) == 0 && raw.len > 0)
        j = json_parse_strict(raw.data, raw.len, &lim, err, sizeof(err));
    buf_release(&raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

int rt_token_parse(const char *tok, size_t len, struct rt_claims *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t d1, d2;
    json_t *h = NULL, *p = NULL;
    int ret = RT_TOKEN_MALFORMED;
    const char *why = "not a token";
    if (len == 0 || len > RT_TOKEN_MAX || split(tok, len, &d1, &d2) < 0)
        goto out;
    h = decode_json(tok, d1);
    const json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0) {
        why = "unsupported token header";
        goto out;
    }
    p = decode_json(tok + d1 + 1, d2 - d1 - 1);
    why = "malformed token claims";
    if (!p || rt_json_string(p, "sub", out->sub, RT_TOKEN_USER_MAX) < 0 ||
        rt_json_string(p, "app", out->app, RT_TOKEN_APP_MAX) < 0)
        goto out;
    const json_t *exp = json_object_get(p, "exp"), *iat = json_object_get(p, "iat");
    if (!json_is_integer(exp) || (iat && !json_is_integer(iat)))
        goto out;
    out->exp = json_integer_value(exp);
    out->iat = iat ? json_integer_value(iat) : 0;
    const json_t *ch = json_object_get(p, "channels");
    if (ch) {
        if (!json_is_array(ch) || json_array_size(ch) > RT_TOKEN_CHANNELS_MAX)
            goto out;
        for (size_t i = 0; i < json_array_size(ch); i++) {
            const json_t *v = json_array_get(ch, i);
            size_t n = json_is_string(v) ? json_string_length(v) : 0;
            if (n == 0 || n > RT_TOKEN_CHANNEL_MAX || memchr(json_string_value(v), '\0', n))
                goto out;
            memcpy(out->channels[i], json_string_value(v), n + 1);
        }
        out->n_channels = json_array_size(ch);
    }
    /* The signature part must at least be 32 bytes of base64url. */
    if (len - d2 - 1 != 43) {
        why = "malformed token signature";
        goto out;
    }
    ret = RT_TOKEN_OK;
out:
    if (ret != RT_TOKEN_OK && err)
        snprintf(err, errlen, "%s", why);
    json_decref(h);
    json_decref(p);
    return ret;
}

int rt_token_verify(const char *tok, size_t len, const unsigned char key[RT_TOKEN_KEY_LEN],
                    const struct rt_claims *claims, int64_t now_s)
{
    size_t d1, d2;
    if (len > RT_TOKEN_MAX || split(tok, len, &d1, &d2) < 0)
        return RT_TOKEN_MALFORMED;
    struct buf given = BUF_INIT;
    int ret = RT_TOKEN_BAD_SIGNATURE;
    unsigned char mac[32];
    if (rt_base64url_decode(tok + d2 + 1, len - d2 - 1, &given) < 0 || given.len != 32) {
        ret = RT_TOKEN_MALFORMED;
        goto out;
    }
    if (sign(key, tok, d2, mac) < 0 || CRYPTO_memcmp(mac, given.data, 32) != 0)
        goto out;
    ret = claims->exp > now_s ? RT_TOKEN_OK : RT_TOKEN_EXPIRED;
out:
    buf_release(&given);
    return ret;
}
