// SPDX-License-Identifier: Apache-2.0
// Plots as SVG: DET curves (log FNMR against log FMR, several systems on one chart) and score
// histograms (genuine and impostor densities), plus conversion to PNG with Debian's
// rsvg-convert, started without a shell. Curves are staircases through every distinct score,
// thinned to points at least half a pixel apart, so a 21-million-pair set still draws as a few
// thousand points.
#include "eval_internal.h"

#include "clearway/err.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

// Chart geometry (pixels) and the DET axes (decades).
#define W 760.0
#define H 600.0
#define X0 80.0
#define Y0 50.0
#define PW 540.0
#define PH 480.0
enum { FMR_DECADES = 7, FNMR_DECADES = 4, HIST_BINS = 100 };

static const char *const colours[] = {"#c03030", "#3050c0", "#2a9d3a", "#d08000",
                                      "#8040b0", "#008b8b", "#a05030", "#505050"};

static void put_escaped(FILE *f, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            if ((unsigned char)*s >= 0x20) {
                fputc(*s, f);
            }
        }
    }
}

static void header(FILE *f, const char *title)
{
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"28\" text-anchor=\"middle\" font-size=\"15\">",
            W, H, W, H, W, H, X0 + PW / 2);
    put_escaped(f, title);
    fputs("</text>\n", f);
}

static void frame(FILE *f, const char *xlabel, const char *ylabel)
{
    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
            "stroke=\"black\"/>\n"
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n"
            "<text x=\"18\" y=\"%.0f\" transform=\"rotate(-90 18 %.0f)\" "
            "text-anchor=\"middle\">%s</text>\n",
            X0, Y0, PW, PH, X0 + PW / 2, Y0 + PH + 40, xlabel, Y0 + PH / 2, Y0 + PH / 2, ylabel);
}

static void decade_label(char *buf, size_t len, int e)
{
    if (e == 0) {
        snprintf(buf, len, "1");
    } else if (e == -1) {
        snprintf(buf, len, "0.1");
    } else {
        snprintf(buf, len, "1e%d", e);
    }
}

typedef struct det_pen {
    FILE *f;
    double lx, ly; // last point written
    int n;
} det_pen_t;

static void det_point(det_pen_t *p, double fmr, double fnmr, int force)
{
    double lf = log10(fmr > 1e-7 ? fmr : 1e-7);
    double ln = log10(fnmr > 1e-4 ? fnmr : 1e-4);
    double x = X0 + (lf + FMR_DECADES) / FMR_DECADES * PW;
    double y = Y0 + PH - (ln + FNMR_DECADES) / FNMR_DECADES * PH;
    if (!force && p->n > 0 && fabs(x - p->lx) < 0.5 && fabs(y - p->ly) < 0.5) {
        return;
    }
    fprintf(p->f, "%.1f,%.1f ", x, y);
    p->lx = x;
    p->ly = y;
    p->n++;
}

static int det_curve(FILE *f, const cw_eval_scores_t *s, const char *colour)
{
    float *gen = malloc((s->n_gen ? s->n_gen : 1) * sizeof(float));
    float *imp = malloc((s->n_imp ? s->n_imp : 1) * sizeof(float));
    if (gen == NULL || imp == NULL) {
        free(gen);
        free(imp);
        return CW_ENOMEM;
    }
    for (size_t i = 0; i < s->n_gen; i++) {
        gen[i] = s->gen[i].score;
    }
    for (size_t i = 0; i < s->n_imp; i++) {
        imp[i] = s->imp[i].score;
    }
    int rc = cw__eval_sort_floats(gen, s->n_gen);
    if (rc == 0) {
        rc = cw__eval_sort_floats(imp, s->n_imp);
    }
    if (rc != 0) {
        free(gen);
        free(imp);
        return rc;
    }
    fprintf(f, "<polyline class=\"det\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
            colour);
    det_pen_t pen = {f, 0, 0, 0};
    size_t ng = s->n_gen, ni = s->n_imp, i = 0, j = 0;
    double fm = 1.0, fn = 0.0;
    det_point(&pen, fm, fn, 1);
    while (i < ng || j < ni) {
        float t = i >= ng ? imp[j] : j >= ni ? gen[i] : (gen[i] < imp[j] ? gen[i] : imp[j]);
        // Raise the threshold just past t: impostors at t drop out, then genuine ones at t.
        while (j < ni && imp[j] == t) {
            j++;
        }
        fm = (double)(ni - j) / (double)ni;
        det_point(&pen, fm, fn, 0);
        while (i < ng && gen[i] == t) {
            i++;
        }
        fn = (double)i / (double)ng;
        det_point(&pen, fm, fn, 0);
    }
    det_point(&pen, fm, fn, 1);
    fputs("\"/>\n", f);
    free(gen);
    free(imp);
    return 0;
}

int cw_eval_det_svg(const char *path, const cw_eval_scores_t *const *sets, int n, const char *title)
{
    if (path == NULL || sets == NULL || n < 1 || n > 64) {
        return CW_EINVAL;
    }
    for (int k = 0; k < n; k++) {
        if (sets[k] == NULL || sets[k]->n_gen == 0 || sets[k]->n_imp == 0) {
            return CW_EINVAL;
        }
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return CW_EIO;
    }
    header(f, title ? title : "DET");
    char lab[16];
    for (int d = 0; d <= FMR_DECADES; d++) {
        double x = X0 + d * PW / FMR_DECADES;
        decade_label(lab, sizeof(lab), d - FMR_DECADES);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
                x, Y0, x, Y0 + PH, x, Y0 + PH + 18, lab);
    }
    for (int d = 0; d <= FNMR_DECADES; d++) {
        double y = Y0 + PH - d * PH / FNMR_DECADES;
        decade_label(lab, sizeof(lab), d - FNMR_DECADES);
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                X0, y, X0 + PW, y, X0 - 6, y + 4, lab);
    }
    frame(f, "FMR (false match rate)", "FNMR (false non-match rate)");
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        rc = det_curve(f, sets[k], colours[k % 8]);
    }
    // The legend, top right where DET curves rarely go.
    for (int k = 0; k < n; k++) {
        double y = Y0 + 20 + 18 * k;
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
                "stroke-width=\"3\"/>\n<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">",
                X0 + PW - 40, y - 4, X0 + PW - 12, y - 4, colours[k % 8], X0 + PW - 46, y);
        put_escaped(f, sets[k]->system[0] ? sets[k]->system : "unnamed system");
        fprintf(f, " (%zu genuine, %zu impostor)</text>\n", sets[k]->n_gen, sets[k]->n_imp);
    }
    fputs("</svg>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        return rc ? rc : CW_EIO;
    }
    return rc;
}

static void hist_curve(FILE *f, const double *d, int log_y, double ymin, double ymax,
                       const char *colour)
{
    fprintf(f, "<polyline class=\"hist\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
            colour);
    for (int b = 0; b < HIST_BINS; b++) {
        double v = d[b];
        double yv = log_y ? (v > 0 ? log10(v) : ymin) : v;
        yv = yv < ymin ? ymin : yv;
        double y = Y0 + PH - (yv - ymin) / (ymax - ymin) * PH;
        double x_a = X0 + (double)b / HIST_BINS * PW, x_b = X0 + (double)(b + 1) / HIST_BINS * PW;
        fprintf(f, "%.1f,%.1f %.1f,%.1f ", x_a, y, x_b, y);
    }
    fputs("\"/>\n", f);
}

// The tick spacing for a range: 1, 2 or 5 times a power of ten, giving 4 to 10 ticks.
static double nice_step(double range)
{
    double p = pow(10.0, floor(log10(range)));
    static const double m[] = {0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0};
    for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
        if (range / (m[k] * p) <= 10.0) {
            return m[k] * p;
        }
    }
    return 10.0 * p;
}

int cw_eval_hist_svg(const char *path, const cw_eval_scores_t *s, int log_y, const char *title)
{
    if (path == NULL || s == NULL || s->n_gen + s->n_imp == 0) {
        return CW_EINVAL;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < s->n_gen + s->n_imp; i++) {
        double v = i < s->n_gen ? s->gen[i].score : s->imp[i - s->n_gen].score;
        if (!isfinite(v)) {
            return CW_EINVAL;
        }
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (hi <= lo) {
        hi = lo + 1.0;
    }
    double step = (hi - lo) / HIST_BINS;
    double dg[HIST_BINS] = {0}, di[HIST_BINS] = {0};
    for (size_t i = 0; i < s->n_gen + s->n_imp; i++) {
        int gen = i < s->n_gen;
        double v = gen ? s->gen[i].score : s->imp[i - s->n_gen].score;
        int b = (int)((v - lo) / step);
        b = b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b;
        (gen ? dg : di)[b] += 1.0;
    }
    double ymax = 0.0, ymin_pos = INFINITY;
    for (int b = 0; b < HIST_BINS; b++) {
        dg[b] = s->n_gen ? dg[b] / ((double)s->n_gen * step) : 0.0;
        di[b] = s->n_imp ? di[b] / ((double)s->n_imp * step) : 0.0;
        double m = dg[b] > di[b] ? dg[b] : di[b];
        ymax = m > ymax ? m : ymax;
        if (dg[b] > 0 && dg[b] < ymin_pos) {
            ymin_pos = dg[b];
        }
        if (di[b] > 0 && di[b] < ymin_pos) {
            ymin_pos = di[b];
        }
    }
    double ylo = 0.0, yhi = ymax > 0 ? ymax * 1.05 : 1.0;
    if (log_y) {
        yhi = ceil(log10(ymax > 0 ? ymax : 1.0));
        ylo = floor(log10(isfinite(ymin_pos) ? ymin_pos : 1e-3));
        ylo = ylo < yhi - 8 ? yhi - 8 : ylo;
        ylo = ylo >= yhi ? yhi - 1 : ylo;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return CW_EIO;
    }
    header(f, title ? title : "Scores");
    // Score ticks at round values: 1, 2 or 5 times a power of ten, 4 to 10 of them.
    double tick = nice_step(hi - lo);
    for (double t = ceil(lo / tick) * tick; t <= hi + 1e-9 * tick; t += tick) {
        double x = X0 + (t - lo) / (hi - lo) * PW;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.6g</text>\n",
                x, Y0, x, Y0 + PH, x, Y0 + PH + 18, fabs(t) < 1e-9 * tick ? 0.0 : t);
    }
    int ny = log_y ? (int)(yhi - ylo) : 5;
    for (int k = 0; k <= ny; k++) {
        double y = Y0 + PH - k * PH / ny;
        char lab[32];
        if (log_y) {
            decade_label(lab, sizeof(lab), (int)ylo + k);
        } else {
            snprintf(lab, sizeof(lab), "%.3g", ylo + k * (yhi - ylo) / ny);
        }
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                X0, y, X0 + PW, y, X0 - 6, y + 4, lab);
    }
    frame(f, "score", log_y ? "density (log scale)" : "density");
    if (s->n_imp > 0) {
        hist_curve(f, di, log_y, ylo, yhi, "#c03030");
    }
    if (s->n_gen > 0) {
        hist_curve(f, dg, log_y, ylo, yhi, "#2a9d3a");
    }
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#2a9d3a\">genuine (%zu)</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#c03030\">impostor (%zu)</text>\n</svg>\n",
            X0 + 12, Y0 + 20, s->n_gen, X0 + 12, Y0 + 38, s->n_imp);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        return CW_EIO;
    }
    return 0;
}

int cw_eval_svg_to_png(const char *svg_path, const char *png_path)
{
    if (svg_path == NULL || png_path == NULL) {
        return CW_EINVAL;
    }
    char *argv[] = {"rsvg-convert", "-o", (char *)png_path, (char *)svg_path, NULL};
    pid_t pid;
    int err = posix_spawnp(&pid, "rsvg-convert", NULL, NULL, argv, environ);
    if (err != 0) {
        return err == ENOENT ? CW_ENOENT : CW_EIO;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return CW_EIO;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        return CW_ENOENT;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : CW_EIO;
}
