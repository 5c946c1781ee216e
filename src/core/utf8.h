/* Text checks shared by every validator: lengths in characters, not bytes, and the control
 * characters that ids and names may not contain. Input is valid UTF-8 (the JSON parser
 * guarantees it), NUL-terminated. */
#ifndef REACTOR_CORE_UTF8_H
#define REACTOR_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Characters (code points) of s. */
size_t utf8_chars(const char *s);
/* True if s holds a C0 control character or DEL. */
bool utf8_has_control(const char *s);
/* Length of the valid UTF-8 sequence at s (1..4) within n bytes, or 0 when it is not valid
 * (overlong, a surrogate, past U+10FFFF, cut short). */
size_t utf8_seq_valid(const unsigned char *s, size_t n);

#endif
