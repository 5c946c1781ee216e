/* Authentication of API keys and of the operator token (see api.h). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "core/clock.h"

int api_authenticate(struct api *api, struct http_request *req, unsigned roles,
                     struct principal *who)
{
    size_t len;
    const char *key = http_request_header(req, "x-api-key", &len);
    if (!key || len == 0) {
        http_respond_error(req, 401, "unauthorized", "Missing API key");
        return -1;
    }
    unsigned retry = 0;
    switch (tenant_authenticate(api->tenants, key, len, clock_now_ms(), who, &retry)) {
    case TENANT_UNKNOWN_KEY:
        http_respond_error(req, 401, "unauthorized", "Invalid API key");
        return -1;
    case TENANT_RATE_LIMITED: {
        char s[16];
        snprintf(s, sizeof(s), "%u", retry);
        http_response_header(req, "Retry-After", s);
        http_respond_error(req, 429, "rate_limited", "Rate limit exceeded");
        return -1;
    }
    case TENANT_OK:
        break;
    }
    if (!(roles & (1u << who->role))) {
        char msg[96];
        snprintf(msg, sizeof(msg), "This key's role (%s) may not do this",
                 store_role_name(who->role));
        http_respond_error(req, 403, "forbidden", msg);
        return -1;
    }
    return 0;
}

bool api_operator_token_valid(struct api *api, struct http_request *req)
{
    size_t len;
    const char *auth = http_request_header(req, "authorization", &len);
    if (!auth || len < 7 || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    /* Compare digests so neither content nor length leaks through timing. */
    unsigned char a[32], b[32];
    tenant_hash_key(auth + 7, len - 7, a);
    tenant_hash_key(api->operator_token, strlen(api->operator_token), b);
    return CRYPTO_memcmp(a, b, 32) == 0;
}

int api_authenticate_operator(struct api *api, struct http_request *req)
{
    if (api->open_signup)
        return 0;
    size_t len;
    const char *auth = http_request_header(req, "authorization", &len);
    if (!auth || len < 7 || strncasecmp(auth, "Bearer ", 7) != 0) {
        http_respond_error(req, 401, "unauthorized", "Missing operator token");
        return -1;
    }
    if (!api_operator_token_valid(api, req)) {
        http_respond_error(req, 401, "unauthorized", "Invalid operator token");
        return -1;
    }
    return 0;
}
