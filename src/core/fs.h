/* File-system helpers. */
#ifndef REACTOR_CORE_FS_H
#define REACTOR_CORE_FS_H

#include <stddef.h>

/* Creates `dir` and its missing parents with mode 0700. 0, or -1 with a message. */
int fs_mkdir_p(const char *dir, char *err, size_t errlen);

#endif
