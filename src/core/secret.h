/* Secrets: random tokens from the operating system's CSPRNG, and the operator token kept in
 * the data directory. */
#ifndef REACTOR_CORE_SECRET_H
#define REACTOR_CORE_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Fills out with 2*n lowercase hex characters of n random bytes, plus NUL (out has 2n+1). */
int secret_random_hex(char *out, size_t n);

/* The operator token: `configured` when non-empty; else the one in <data_dir>/operator_token;
 * else a new one, written there with mode 0600 (*created set true so the caller prints it
 * once). Returns a new string, or NULL with a message. */
char *secret_operator_token(const char *data_dir, const char *configured, bool *created, char *err,
                            size_t errlen);

/* A secret kept in <data_dir>/<name>: read, or created with mode 0600 (*created set true).
 * What the operator token and the client-token secret use. Returns a new string, or NULL with
 * a message. */
char *secret_file(const char *data_dir, const char *name, bool *created, char *err,
                  size_t errlen);

#endif
