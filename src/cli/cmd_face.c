// SPDX-License-Identifier: Apache-2.0
// `clearway face detect|embed|compare|quality`: the face pipeline on image files, for people
// checking a camera or a photo, and for scripts (--json).
#include "cli.h"
#include "face_cli.h"

#include "clearway/clearway.h"
#include "clearway/face.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run_face(int argc, char **argv);

const cw_cli_command_t cw_cmd_face = {
    "face",
    "Detect, embed, compare and check the quality of faces in image files",
    "Usage: clearway face detect IMG [options]\n"
    "       clearway face embed IMG [options]\n"
    "       clearway face compare IMG_A IMG_B [--threshold T] [options]\n"
    "       clearway face quality IMG [--pad] [options]\n"
    "\n"
    "detect   every face found (box, score, five landmarks) and which one is the subject\n"
    "embed    the subject's template (model, version, L2-normalised embedding)\n"
    "compare  the similarity of the subjects of two photos, the threshold and the decision\n"
    "quality  capture-quality measures of the subject, a verdict and an instruction\n"
    "\n"
    "Images: JPEG, PNG or JPEG 2000 (EXIF orientation honoured; at most 8192 px a side, 40 Mpx).\n"
    "\n"
    "Options:\n"
    "  --json              one JSON object on stdout instead of text\n"
    "  --min-face PX       smallest face side to look for (default 40)\n"
    "  --subject POLICY    auto (default: the biggest face, the most central of those at\n"
    "                      least half as big), largest or central\n"
    "  --no-flip           embed the crop only, without its mirror image (faster, less accurate)\n"
    "  --embedder E        mobilefacenet (default) or fused (MobileFaceNet + fr_feature,\n"
    "                      mean-score fusion: more accurate, ~6 ms slower; docs/models.md)\n"
    "  --threshold T       compare: decision threshold on the cosine score (default: the\n"
    "                      model's calibrated threshold for a false-match rate of 1e-3)\n"
    "  --fmr 1e-3|1e-4     compare: pick the calibrated threshold for this false-match rate\n"
    "  --aligned OUT.png   detect: also write the subject's aligned 112x112 crop\n"
    "  --pad               quality: also run the presentation-attack model (slow)\n"
    "\n"
    "Models come from $CLEARWAY_DEPS (default: the checkout's .deps; run `make setup`).\n"
    "Exit status: 0 done (even if no face or no match), 1 failure (unreadable image, missing\n"
    "model; compare also when either photo has no face), 2 bad command line.\n",
    run_face,
    NULL,
};

typedef struct face_opts {
    const char *sub;
    const char *files[2];
    int n_files;
    int json;
    int min_face;
    int no_flip;
    int pad;
    double threshold; // < -1 = calibrated
    double fmr;
    const char *aligned;
    cw_face_subject_policy_t policy;
    cw_face_embedder_t embedder;
} face_opts;

static int parse_opts(int argc, char **argv, face_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->threshold = -2.0;
    o->fmr = 1e-3;
    if (argc < 2) {
        return cw_cli_usage_error("face", "missing action (detect, embed, compare or quality)");
    }
    o->sub = argv[1];
    if (strcmp(o->sub, "detect") != 0 && strcmp(o->sub, "embed") != 0 &&
        strcmp(o->sub, "compare") != 0 && strcmp(o->sub, "quality") != 0) {
        return cw_cli_usage_error("face", "unknown action '%s'", o->sub);
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--no-flip") == 0) {
            o->no_flip = 1;
        } else if (strcmp(a, "--pad") == 0) {
            o->pad = 1;
        } else if (strcmp(a, "--min-face") == 0 || strcmp(a, "--threshold") == 0 ||
                   strcmp(a, "--fmr") == 0 || strcmp(a, "--aligned") == 0 ||
                   strcmp(a, "--subject") == 0 || strcmp(a, "--embedder") == 0) {
            if (val == NULL) {
                return cw_cli_usage_error("face", "%s needs a value", a);
            }
            i++;
            char *end;
            if (strcmp(a, "--min-face") == 0) {
                long v = strtol(val, &end, 10);
                if (*end != '\0' || v < 12 || v > 4096) {
                    return cw_cli_usage_error("face", "--min-face must be 12..4096, not '%s'", val);
                }
                o->min_face = (int)v;
            } else if (strcmp(a, "--threshold") == 0) {
                double v = strtod(val, &end);
                if (*end != '\0' || !(v >= -1.0 && v <= 1.0)) {
                    return cw_cli_usage_error("face", "--threshold must be in [-1, 1], not '%s'",
                                              val);
                }
                o->threshold = v;
            } else if (strcmp(a, "--fmr") == 0) {
                double v = strtod(val, &end);
                if (*end != '\0' || (v != 1e-3 && v != 1e-4)) {
                    return cw_cli_usage_error("face", "--fmr must be 1e-3 or 1e-4, not '%s'", val);
                }
                o->fmr = v;
            } else if (strcmp(a, "--aligned") == 0) {
                o->aligned = val;
            } else if (strcmp(a, "--embedder") == 0) {
                if (cw_cli_face_embedder(val, &o->embedder) != 0) {
                    return cw_cli_usage_error("face", "--embedder must be mobilefacenet or fused");
                }
            } else if (cw_cli_face_policy(val, &o->policy) != 0) {
                return cw_cli_usage_error("face", "--subject must be auto, largest or central");
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return cw_cli_usage_error("face", "unknown option '%s'", a);
        } else if (o->n_files < 2) {
            o->files[o->n_files++] = a;
        } else {
            return cw_cli_usage_error("face", "too many arguments");
        }
    }
    int want = strcmp(o->sub, "compare") == 0 ? 2 : 1;
    if (o->n_files != want) {
        return cw_cli_usage_error("face", "%s takes %d image file%s", o->sub, want,
                                  want == 1 ? "" : "s");
    }
    return 0;
}

static json_t *face_json(const cw_face_t *f)
{
    json_t *lm = json_array();
    for (int j = 0; j < CW_FACE_N_LANDMARKS; j++) {
        json_array_append_new(lm, json_pack("[f,f]", f->lm[j][0], f->lm[j][1]));
    }
    return json_pack("{s:[f,f,f,f],s:f,s:o}", "box", f->x0, f->y0, f->x1, f->y1, "score", f->score,
                     "landmarks", lm);
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(7));
    if (s != NULL) {
        puts(s);
        free(s);
    }
    json_decref(j);
}

static int do_detect(const face_opts *o, cw_cli_face_t *cf)
{
    cw_cli_face_photo_t p;
    if (cw_cli_face_photo(cf, o->files[0], o->policy, &p) != 0) {
        return CW_EXIT_FAIL;
    }
    int shown = p.n < CW_FACE_MAX_FACES ? p.n : CW_FACE_MAX_FACES;
    if (o->aligned != NULL && p.subject >= 0) {
        cw_image_t crop;
        char diag[256] = "";
        int rc = cw_face_aligned_image(&p.img, &p.faces[p.subject], &crop);
        if (rc == 0) {
            rc = cw_image_write_png(&crop, o->aligned, diag, sizeof(diag));
            cw_image_free(&crop);
        }
        if (rc != 0) {
            fprintf(stderr, "clearway face: cannot write %s: %s %s\n", o->aligned, cw_strerror(rc),
                    diag);
            cw_cli_face_photo_free(&p);
            return CW_EXIT_FAIL;
        }
    }
    if (o->json) {
        json_t *arr = json_array();
        for (int i = 0; i < shown; i++) {
            json_array_append_new(arr, face_json(&p.faces[i]));
        }
        print_json(json_pack("{s:s,s:i,s:i,s:i,s:i,s:o}", "image", o->files[0], "width",
                             p.img.width, "height", p.img.height, "n_faces", p.n, "subject",
                             p.subject, "faces", arr));
    } else {
        printf("%s: %dx%d, %d face%s\n", o->files[0], p.img.width, p.img.height, p.n,
               p.n == 1 ? "" : "s");
        for (int i = 0; i < shown; i++) {
            const cw_face_t *f = &p.faces[i];
            printf("%s face %d: box %.1f,%.1f-%.1f,%.1f score %.3f eyes (%.1f,%.1f) (%.1f,%.1f) "
                   "nose (%.1f,%.1f) mouth (%.1f,%.1f) (%.1f,%.1f)\n",
                   i == p.subject ? "*" : " ", i, f->x0, f->y0, f->x1, f->y1, f->score, f->lm[0][0],
                   f->lm[0][1], f->lm[1][0], f->lm[1][1], f->lm[2][0], f->lm[2][1], f->lm[3][0],
                   f->lm[3][1], f->lm[4][0], f->lm[4][1]);
        }
        if (p.subject >= 0) {
            printf("subject: face %d (*)\n", p.subject);
        }
    }
    cw_cli_face_photo_free(&p);
    return CW_EXIT_OK;
}

// The subject's template of one photo; prints why not and returns nonzero when there is none.
static int subject_template(cw_cli_face_t *cf, const char *file, cw_face_subject_policy_t policy,
                            cw_face_template_t *t)
{
    cw_cli_face_photo_t p;
    if (cw_cli_face_photo(cf, file, policy, &p) != 0) {
        return -1;
    }
    if (p.subject < 0) {
        fprintf(stderr, "clearway face: no face found in %s\n", file);
        cw_cli_face_photo_free(&p);
        return -1;
    }
    int rc = cw_face_embed(cf->session, &p.img, &p.faces[p.subject], t);
    cw_cli_face_photo_free(&p);
    if (rc != 0) {
        fprintf(stderr, "clearway face: cannot embed the face in %s: %s\n", file, cw_strerror(rc));
        return -1;
    }
    return 0;
}

static int do_embed(const face_opts *o, cw_cli_face_t *cf)
{
    cw_face_template_t *t = cw_calloc(1, sizeof(*t));
    if (t == NULL || subject_template(cf, o->files[0], o->policy, t) != 0) {
        cw_free(t);
        return CW_EXIT_FAIL;
    }
    if (o->json) {
        json_t *v = json_array();
        for (uint32_t i = 0; i < t->dim; i++) {
            json_array_append_new(v, json_real(t->v[i]));
        }
        print_json(json_pack("{s:s,s:s,s:i,s:i,s:b,s:o}", "image", o->files[0], "model",
                             cw_face_model_name(t->model_id), "model_version",
                             (int)t->model_version, "dim", (int)t->dim, "flip_averaged",
                             (t->flags & CW_FACE_TEMPLATE_FLIP_AVERAGED) != 0, "embedding", v));
    } else {
        printf("model %s version %u dim %u%s\n", cw_face_model_name(t->model_id),
               (unsigned)t->model_version, (unsigned)t->dim,
               (t->flags & CW_FACE_TEMPLATE_FLIP_AVERAGED) ? " flip-averaged" : "");
        for (uint32_t i = 0; i < t->dim; i++) {
            printf("%.6f%c", t->v[i], (i + 1) % 8 == 0 || i + 1 == t->dim ? '\n' : ' ');
        }
    }
    cw_free_wipe(t, sizeof(*t));
    return CW_EXIT_OK;
}

static int do_compare(const face_opts *o, cw_cli_face_t *cf)
{
    cw_face_template_t *t = cw_calloc(2, sizeof(*t));
    if (t == NULL) {
        return CW_EXIT_FAIL;
    }
    int ret = CW_EXIT_FAIL;
    float score;
    if (subject_template(cf, o->files[0], o->policy, &t[0]) == 0 &&
        subject_template(cf, o->files[1], o->policy, &t[1]) == 0) {
        int rc = cw_face_compare(&t[0], &t[1], &score);
        if (rc != 0) {
            fprintf(stderr, "clearway face: cannot compare: %s\n", cw_strerror(rc));
        } else {
            double thr = o->threshold >= -1.0 ? o->threshold
                                              : cw_face_threshold(t[0].model_id, t[0].model_version,
                                                                  t[0].flags, o->fmr);
            int match = score >= thr;
            if (o->json) {
                print_json(json_pack("{s:s,s:s,s:f,s:f,s:s,s:s}", "a", o->files[0], "b",
                                     o->files[1], "score", score, "threshold", thr, "decision",
                                     match ? "match" : "no_match", "threshold_source",
                                     o->threshold >= -1.0 ? "given" : "calibrated"));
            } else {
                printf("score %.4f threshold %.4f decision %s\n", score, thr,
                       match ? "match" : "no match");
            }
            ret = CW_EXIT_OK;
        }
    }
    cw_free_wipe(t, 2 * sizeof(*t));
    return ret;
}

static int do_quality(const face_opts *o, cw_cli_face_t *cf)
{
    cw_cli_face_photo_t p;
    if (cw_cli_face_photo(cf, o->files[0], o->policy, &p) != 0) {
        return CW_EXIT_FAIL;
    }
    cw_face_quality_t q;
    int shown = p.n < CW_FACE_MAX_FACES ? p.n : CW_FACE_MAX_FACES;
    int rc = cw_face_quality(&p.img, p.faces, shown, p.subject < 0 ? 0 : p.subject, &q);
    float pad = -1.0f;
    if (rc == 0 && o->pad && p.subject >= 0) {
        rc = cw_face_pad(cf->session, &p.img, &p.faces[p.subject], &pad);
    }
    if (rc != 0) {
        fprintf(stderr, "clearway face: quality of %s: %s\n", o->files[0], cw_strerror(rc));
        cw_cli_face_photo_free(&p);
        return CW_EXIT_FAIL;
    }
    const char *name = cw_face_quality_name(q.verdict);
    const char *instr = cw_face_quality_instruction(q.verdict);
    if (o->json) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:i}", "image", o->files[0], "verdict", name,
                              "instruction", instr, "n_faces", p.n);
        if (p.subject >= 0) {
            json_object_set_new(j, "measures",
                                json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "inter_eye",
                                          q.inter_eye, "yaw", q.yaw, "pitch", q.pitch, "roll",
                                          q.roll, "sharpness", q.sharpness, "brightness",
                                          q.brightness, "clipped", q.clipped, "face_score",
                                          q.face_score, "centre_offset", q.centre_offset,
                                          "face_fraction", q.face_fraction));
        }
        if (o->pad && p.subject >= 0) {
            json_object_set_new(j, "pad_score", json_real(pad));
        }
        print_json(j);
    } else {
        printf("verdict %s: %s\n", name, instr);
        if (p.subject >= 0) {
            printf("inter-eye %.1f px, yaw %.1f, pitch %.1f, roll %.1f deg, sharpness %.1f, "
                   "brightness %.1f, clipped %.3f, face score %.3f, centre offset %.3f, face "
                   "fraction %.3f\n",
                   q.inter_eye, q.yaw, q.pitch, q.roll, q.sharpness, q.brightness, q.clipped,
                   q.face_score, q.centre_offset, q.face_fraction);
        }
        if (o->pad && p.subject >= 0) {
            printf("presentation-attack score %.3f (0 looks live, 1 looks like an attack; a hint "
                   "for policy, not a certified liveness decision)\n",
                   pad);
        }
    }
    cw_cli_face_photo_free(&p);
    return CW_EXIT_OK;
}

static int run_face(int argc, char **argv)
{
    face_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    cw_face_config_t cfg = {0};
    cfg.min_face = o.min_face;
    cfg.flip_average = o.no_flip ? -1 : 0;
    cfg.load_pad = o.pad;
    cfg.embedder = o.embedder;
    cw_cli_face_t cf;
    if (cw_cli_face_open(&cfg, &cf) != 0) {
        return CW_EXIT_FAIL;
    }
    if (strcmp(o.sub, "detect") == 0) {
        rc = do_detect(&o, &cf);
    } else if (strcmp(o.sub, "embed") == 0) {
        rc = do_embed(&o, &cf);
    } else if (strcmp(o.sub, "compare") == 0) {
        rc = do_compare(&o, &cf);
    } else {
        rc = do_quality(&o, &cf);
    }
    cw_cli_face_close(&cf);
    return rc;
}
