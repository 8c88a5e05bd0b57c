// SPDX-License-Identifier: Apache-2.0
// The browser pages (web/): GET /ui/<path> serves a file of the web root without an API key,
// GET / and GET /ui redirect to /ui/, and /ui/ is index.html. The pages hold no personal data
// (they fetch it from the API with a key), so they are public like /healthz and, like it, not
// audited: a page load fetches several files, and an entry each would flood the audit chain with
// nothing to trace; the access log and the metrics still count every request. A path is served
// only when it is plain (letters, digits, '.', '-', '_' and '/' between non-empty segments, no
// "." or ".." segment, nothing hidden), resolves (symlinks followed) to a regular file inside the
// resolved root, and is at most CW__UI_MAX_FILE bytes.
// realpath() is XSI, not in the POSIX base the build asks for.
#define _XOPEN_SOURCE 700
#include "server_internal.h"

#include "clearway/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { CW__UI_MAX_FILE = 4 << 20 };

typedef struct mime {
    const char *ext, *type;
} mime_t;

static const mime_t mimes[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
    {".woff2", "font/woff2"},
    {".md", "text/plain; charset=utf-8"},
};

// The MIME type of a file name by its extension; NULL when not one the pages use.
static const char *mime_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++) {
        if (strcmp(dot, mimes[i].ext) == 0) {
            return mimes[i].type;
        }
    }
    return NULL;
}

// 1 if rel (the part after /ui/) is a plain relative path: segments of [A-Za-z0-9._-], none
// empty, none starting with '.' (no "..", no hidden files).
static int plain_path(const char *rel)
{
    int seg_start = 1;
    if (rel[0] == '\0') {
        return 0;
    }
    for (const char *c = rel; *c != '\0'; c++) {
        if (*c == '/') {
            if (seg_start) {
                return 0; // empty segment ("//" or a leading '/')
            }
            seg_start = 1;
            continue;
        }
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 *c == '.' || *c == '-' || *c == '_';
        if (!ok || (seg_start && *c == '.')) {
            return 0;
        }
        seg_start = 0;
    }
    return !seg_start;
}

static void not_found(cw__req_t *r)
{
    cw__reply_error(r, 404, CW_ENOENT, "NOT_FOUND", "no such page");
}

static void redirect(cw__req_t *r)
{
    cw__reply_text(r, 302, "text/plain; charset=utf-8", "/ui/\n", 5);
    snprintf(r->location, sizeof(r->location), "/ui/");
}

void cw__h_ui_root(cw__req_t *r, json_t *body)
{
    (void)body;
    redirect(r);
}

void cw__h_ui_file(cw__req_t *r, json_t *body)
{
    (void)body;
    r->ui = 1;
    const char *root = r->srv->web_root;
    // r->path is the decoded path ("/ui/..."): refuse what was cut short to fit it.
    if (root == NULL || r->path_long || strncmp(r->path, "/ui/", 4) != 0) {
        not_found(r);
        return;
    }
    const char *rel = r->path[4] != '\0' ? r->path + 4 : "index.html";
    const char *type = mime_of(rel);
    if (!plain_path(rel) || type == NULL) {
        not_found(r);
        return;
    }
    char joined[PATH_MAX], real[PATH_MAX];
    int n = snprintf(joined, sizeof(joined), "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= sizeof(joined) || realpath(joined, real) == NULL) {
        not_found(r);
        return;
    }
    // A symlink may point anywhere: what it resolves to must still be inside the root.
    size_t root_len = strlen(root);
    if (strncmp(real, root, root_len) != 0 || real[root_len] != '/') {
        not_found(r);
        return;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CW__UI_MAX_FILE) {
        if (fd >= 0) {
            close(fd);
        }
        not_found(r);
        return;
    }
    size_t len = (size_t)st.st_size;
    char *buf = cw__json_malloc(len + 1);
    size_t got = 0;
    while (buf != NULL && got < len) {
        ssize_t k = read(fd, buf + got, len - got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        got += (size_t)k;
    }
    close(fd);
    if (buf == NULL || got != len) {
        cw__json_free(buf);
        cw__reply_error(r, 500, CW_EIO, "INTERNAL", "cannot read the page");
        return;
    }
    buf[len] = '\0';
    cw__reply_owned(r, 200, type, buf, len);
}
