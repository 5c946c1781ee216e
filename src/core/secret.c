/* Random tokens and the operator token file (see secret.h). */
#include "core/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/hex.h"
#include "core/mem.h"

#define OPERATOR_TOKEN_BYTES 32

int secret_random_hex(char *out, size_t n)
{
    unsigned char raw[64];
    if (n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
        return -1;
    hex_encode(raw, n, out);
    OPENSSL_cleanse(raw, n);
    return 0;
}

char *secret_operator_token(const char *data_dir, const char *configured, bool *created, char *err,
                            size_t errlen)
{
    *created = false;
    if (configured && *configured)
        return xstrdup(configured);
    return secret_file(data_dir, "operator_token", created, err, errlen);
}

char *secret_file(const char *data_dir, const char *name, bool *created, char *err,
                  size_t errlen)
{
    *created = false;
    struct buf path = BUF_INIT;
    buf_printf(&path, "%s/%s", data_dir, name);
    char *token = NULL;
    int fd = open(path.data, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char tmp[256];
        ssize_t n = read(fd, tmp, sizeof(tmp) - 1);
        close(fd);
        if (n < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path.data, strerror(errno));
            goto out;
        }
        while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r' || tmp[n - 1] == ' '))
            n--;
        tmp[n] = '\0';
        if (n < 16) {
            snprintf(err, errlen, "%s is shorter than 16 characters; delete it to get a new one",
                     path.data);
            goto out;
        }
        token = xstrdup(tmp);
        goto out;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "cannot open %s: %s", path.data, strerror(errno));
        goto out;
    }
    char fresh[2 * OPERATOR_TOKEN_BYTES + 1];
    if (secret_random_hex(fresh, OPERATOR_TOKEN_BYTES) < 0) {
        snprintf(err, errlen, "the random number generator failed");
        goto out;
    }
    fd = open(path.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path.data, strerror(errno));
        goto out;
    }
    size_t len = strlen(fresh);
    bool ok = write(fd, fresh, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path.data, strerror(errno));
        unlink(path.data);
        goto out;
    }
    token = xstrdup(fresh);
    *created = true;
out:
    buf_release(&path);
    return token;
}
