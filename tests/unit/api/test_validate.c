/* Unit tests for the field checks in src/api/validate.c: what POST /apps and POST /users accept
 * as an app id, user id, time zone, webhook URL and attributes object. (api_validate itself
 * answers an HTTP request; the integration tests cover it.) */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "core/utf8.h"

/* Runs a check on a JSON string; returns its message (NULL = accepted). */
static const char *check_str(const char *(*check)(const json_t *), const char *s)
{
    json_t *v = json_string(s);
    assert_non_null(v);
    const char *res = check(v);
    json_decref(v);
    return res;
}

#define ACCEPTS(check, s)                                                                          \
    do {                                                                                           \
        const char *why_ = check_str(check, s);                                                    \
        if (why_)                                                                                  \
            fail_msg("%s refused \"%s\": %s", #check, s, why_);                                    \
    } while (0)

#define REFUSES(check, s)                                                                          \
    do {                                                                                           \
        if (!check_str(check, s))                                                                  \
            fail_msg("%s accepted \"%s\"", #check, s);                                             \
    } while (0)

/* ---- utf8_chars -------------------------------------------------------------------------- */

static void utf8_len_counts_characters(void **state)
{
    (void)state;
    assert_int_equal(utf8_chars(""), 0);
    assert_int_equal(utf8_chars("abc"), 3);
    assert_int_equal(utf8_chars("\xc3\xa9t\xc3\xa9"), 3);        /* "été" */
    assert_int_equal(utf8_chars("\xe6\x97\xa5\xe6\x9c\xac"), 2); /* two CJK characters */
    assert_int_equal(utf8_chars("\xf0\x9f\x98\x80!"), 2);        /* an emoji and "!" */
}

/* ---- api_check_timezone -------------------------------------------------------------------- */

static void timezone_accepts_real_zones(void **state)
{
    (void)state;
    ACCEPTS(api_check_timezone, "UTC");
    ACCEPTS(api_check_timezone, "Europe/Paris");
    ACCEPTS(api_check_timezone, "America/Argentina/Buenos_Aires");
    ACCEPTS(api_check_timezone, "Etc/GMT+5");
    ACCEPTS(api_check_timezone, "America/Port-au-Prince");
}

static void timezone_refuses_unknown_and_paths(void **state)
{
    (void)state;
    REFUSES(api_check_timezone, "Mars/Base");
    REFUSES(api_check_timezone, "../etc/passwd");
    REFUSES(api_check_timezone, "Europe/../../../etc/passwd");
    REFUSES(api_check_timezone, "/etc/localtime");
    REFUSES(api_check_timezone, "");
    REFUSES(api_check_timezone, "Europe"); /* a directory */
    REFUSES(api_check_timezone, "Europe/");
    REFUSES(api_check_timezone, "Europe/Paris "); /* exact names only */
    REFUSES(api_check_timezone, "europe/paris\n");
    REFUSES(api_check_timezone, "zone.tab"); /* a file in zoneinfo, not a zone */
    /* zoneinfo/localtime is the host's own setting (a link to /etc/localtime), not a zone: an
     * app using it would change time zone when the server moves. */
    REFUSES(api_check_timezone, "localtime");
    /* A long name must be refused, not cut to something that exists. */
    char longname[200];
    snprintf(longname, sizeof(longname), "Europe/Paris%0150d", 0);
    REFUSES(api_check_timezone, longname);
    /* A plain file in zoneinfo that is not a TZif zone. */
    if (access("/usr/share/zoneinfo/leapseconds", R_OK) == 0)
        REFUSES(api_check_timezone, "leapseconds");
    /* The message names what is expected. */
    const char *why = check_str(api_check_timezone, "Mars/Base");
    assert_non_null(strstr(why, "time zone"));
}

/* ---- api_check_http_url -------------------------------------------------------------------- */

static void http_url_accepts_http_and_https(void **state)
{
    (void)state;
    ACCEPTS(api_check_http_url, "http://example.com");
    ACCEPTS(api_check_http_url, "https://example.com/hooks/forge?x=1&y=2");
    ACCEPTS(api_check_http_url, "https://10.0.0.1:8443/x");
    char url[2049];
    memcpy(url, "https://e.com/", 14);
    memset(url + 14, 'a', sizeof(url) - 15);
    url[2048] = '\0';
    ACCEPTS(api_check_http_url, url); /* 2048 characters: the longest allowed */
}

static void http_url_refuses_others(void **state)
{
    (void)state;
    REFUSES(api_check_http_url, "");
    REFUSES(api_check_http_url, "example.com");
    REFUSES(api_check_http_url, "ftp://example.com/");
    REFUSES(api_check_http_url, "javascript:alert(1)");
    REFUSES(api_check_http_url, "file:///etc/passwd");
    REFUSES(api_check_http_url, "http://");
    REFUSES(api_check_http_url, "https://");
    REFUSES(api_check_http_url, "https:///path-only");
    REFUSES(api_check_http_url, "http://exa mple.com/");
    REFUSES(api_check_http_url, "http://example.com/\r\nX-Injected: 1");
    REFUSES(api_check_http_url, "http://example.com/\x7f");
    char url[2050];
    memcpy(url, "https://e.com/", 14);
    memset(url + 14, 'a', sizeof(url) - 15);
    url[2049] = '\0';
    REFUSES(api_check_http_url, url); /* 2049 characters */
}

/* ---- api_check_id -------------------------------------------------------------------------- */

static void id_accepts_allowed_characters(void **state)
{
    (void)state;
    ACCEPTS(api_check_id, "my-app");
    ACCEPTS(api_check_id, "My.App_2:prod-1");
    ACCEPTS(api_check_id, "0123456789");
    ACCEPTS(api_check_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._:-");
}

static void id_refuses_other_characters(void **state)
{
    (void)state;
    REFUSES(api_check_id, "my app");
    REFUSES(api_check_id, "app/1");
    REFUSES(api_check_id, "app?x");
    REFUSES(api_check_id, "app%20");
    REFUSES(api_check_id, "caf\xc3\xa9");
    REFUSES(api_check_id, "app\n");
    REFUSES(api_check_id, "a#b");
    REFUSES(api_check_id, ".");
    REFUSES(api_check_id, "..");
    REFUSES(api_check_id, "-app");
    const char *why = check_str(api_check_id, "a b");
    assert_non_null(strstr(why, "letters"));
}

/* ---- api_check_user_id --------------------------------------------------------------------- */

static void user_id_accepts_printable_text(void **state)
{
    (void)state;
    ACCEPTS(api_check_user_id, "user-1");
    ACCEPTS(api_check_user_id, "user 1 / with spaces & symbols?");
    ACCEPTS(api_check_user_id, "\xe7\x94\xa8\xe6\x88\xb7"); /* non-ASCII */
    ACCEPTS(api_check_user_id, "alice@example.com");
}

static void user_id_refuses_control_characters(void **state)
{
    (void)state;
    REFUSES(api_check_user_id, "a\tb");
    REFUSES(api_check_user_id, "a\nb");
    REFUSES(api_check_user_id, "\x01");
    REFUSES(api_check_user_id, "abc\x1f");
    REFUSES(api_check_user_id, "del\x7f");
    const char *why = check_str(api_check_user_id, "a\rb");
    assert_non_null(strstr(why, "control"));
}

/* ---- api_check_small_object ---------------------------------------------------------------- */

/* {"a":"xxx..."} serialises to 8 + n bytes. */
static const char *check_object_of_size(size_t total)
{
    size_t n = total - 8;
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    json_t *o = json_pack("{s:s}", "a", s);
    free(s);
    char *dumped = json_dumps(o, JSON_COMPACT);
    assert_int_equal(strlen(dumped), total);
    free(dumped);
    const char *res = api_check_small_object(o);
    json_decref(o);
    return res;
}

static void small_object_16k_boundary(void **state)
{
    (void)state;
    assert_null(check_object_of_size(16 * 1024));
    const char *why = check_object_of_size(16 * 1024 + 1);
    assert_non_null(why);
    assert_non_null(strstr(why, "16 KiB"));
    assert_null(check_object_of_size(100));
    json_t *empty = json_object();
    assert_null(api_check_small_object(empty));
    json_decref(empty);
}

/* Many small members add up: the limit is on the whole object. */
static void small_object_counts_all_members(void **state)
{
    (void)state;
    json_t *o = json_object();
    char name[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        json_object_set_new(o, name, json_integer(i)); /* ~12 bytes each: ~24 KiB */
    }
    assert_non_null(api_check_small_object(o));
    json_decref(o);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(utf8_len_counts_characters),
    cmocka_unit_test(timezone_accepts_real_zones),
    cmocka_unit_test(timezone_refuses_unknown_and_paths),
    cmocka_unit_test(http_url_accepts_http_and_https),
    cmocka_unit_test(http_url_refuses_others),
    cmocka_unit_test(id_accepts_allowed_characters),
    cmocka_unit_test(id_refuses_other_characters),
    cmocka_unit_test(user_id_accepts_printable_text),
    cmocka_unit_test(user_id_refuses_control_characters),
    cmocka_unit_test(small_object_16k_boundary),
    cmocka_unit_test(small_object_counts_all_members),
};

UNIT_MAIN(tests)
