/* File-system helpers (see fs.h). */
#include "core/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"

int fs_mkdir_p(const char *dir, char *err, size_t errlen)
{
    char *tmp = xstrdup(dir);
    int ret = -1;
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char save = *p;
            *p = '\0';
            if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create directory %s: %s", tmp, strerror(errno));
                goto out;
            }
            *p = save;
            if (save == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", dir);
        goto out;
    }
    ret = 0;
out:
    free(tmp);
    return ret;
}
