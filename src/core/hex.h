/* Lowercase hexadecimal: the one encoder and decoder for keys, tokens, request ids, digests
 * and percent-escapes. */
#ifndef REACTOR_CORE_HEX_H
#define REACTOR_CORE_HEX_H

#include <stddef.h>

/* The value of one hex digit (either case), or -1. */
int hex_value(char c);
/* Writes 2*n lowercase hex characters of data[0..n) and a NUL into out (2n+1 bytes). */
void hex_encode(const void *data, size_t n, char *out);
/* Decodes exactly 2*n hex characters (either case) of s into out[0..n). 0, or -1 on a
 * character that is not a hex digit. */
int hex_decode(const char *s, size_t n, unsigned char *out);

#endif
