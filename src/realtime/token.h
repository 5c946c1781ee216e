/* Client tokens: JSON Web Tokens signed with HS256 (RFC 7519, RFC 7515), encoded and checked
 * by a small codec of ours over OpenSSL's HMAC.
 *
 * A token names an app and a user and carries an expiry:
 *   header  {"alg":"HS256","typ":"JWT"}
 *   payload {"sub": userId, "app": appId, "iat": s, "exp": s, "channels"?: [name, ...]}
 * Each app signs with its own key, derived from the server's token secret (which never leaves
 * the server): key = HMAC-SHA256(server secret, "reactor-token:" app id). Rotating the server
 * secret (deleting the file that holds it) invalidates every token at once.
 *
 * Checking is two steps so the key can depend on the app the token claims: rt_token_parse
 * decodes without trusting anything (pure; what the fuzz target drives), then
 * rt_token_verify recomputes the signature with the app's key, compares it in constant time
 * and enforces `exp`. Only "HS256" is accepted (no "none", no algorithm switching). */
#ifndef REACTOR_REALTIME_TOKEN_H
#define REACTOR_REALTIME_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define RT_TOKEN_MAX 4096         /* bytes of an encoded token */
#define RT_TOKEN_USER_MAX 256     /* bytes of a user id */
#define RT_TOKEN_APP_MAX 128      /* bytes of an app id */
#define RT_TOKEN_CHANNELS_MAX 16  /* extra channels one token may grant */
#define RT_TOKEN_CHANNEL_MAX 300  /* bytes of one channel name */
#define RT_TOKEN_KEY_LEN 32

struct rt_claims {
    char sub[RT_TOKEN_USER_MAX + 1];
    char app[RT_TOKEN_APP_MAX + 1];
    int64_t iat, exp;             /* Unix seconds */
    size_t n_channels;
    char channels[RT_TOKEN_CHANNELS_MAX][RT_TOKEN_CHANNEL_MAX + 1];
};

/* Why a token is refused. */
enum rt_token_err {
    RT_TOKEN_OK = 0,
    RT_TOKEN_MALFORMED = -1,      /* not a JWT we issue: encoding, JSON, claims */
    RT_TOKEN_BAD_SIGNATURE = -2,
    RT_TOKEN_EXPIRED = -3,
};

/* The per-app signing key from the server secret. 0, or -1 when the crypto library fails. */
int rt_token_app_key(const void *server_secret, size_t len, const char *app_id,
                     unsigned char key[RT_TOKEN_KEY_LEN]);

/* Appends the encoded token for `claims` to out. 0, or -1 when the crypto library fails. */
int rt_token_encode(const struct rt_claims *claims, const unsigned char key[RT_TOKEN_KEY_LEN],
                    struct buf *out);

/* Decodes tok[0..len) into *out without checking the signature: RT_TOKEN_OK or
 * RT_TOKEN_MALFORMED (with a reason in err). */
int rt_token_parse(const char *tok, size_t len, struct rt_claims *out, char *err,
                   size_t errlen);
/* Checks the signature of tok[0..len) with `key` and that exp > now_s: an rt_token_err. */
int rt_token_verify(const char *tok, size_t len, const unsigned char key[RT_TOKEN_KEY_LEN],
                    const struct rt_claims *claims, int64_t now_s);

/* base64url without padding (RFC 4648 section 5). Decoding appends to out and returns 0, or
 * -1 for a character outside the alphabet, padding, or an impossible length. */
void rt_base64url_encode(const void *data, size_t len, struct buf *out);
int rt_base64url_decode(const char *s, size_t len, struct buf *out);

#endif
