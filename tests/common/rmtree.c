// SPDX-License-Identifier: Apache-2.0
// The test suites' temporary folders are removed by this one helper (tests/common/rmtree.h).
#include "rmtree.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cw_test_rmtree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    chmod(path, 0700); // a test may have made it read-only, to make writes fail
    DIR *d = opendir(path);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char sub[1024];
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            cw_test_rmtree(sub);
        }
        closedir(d);
    }
    rmdir(path);
}
