// SPDX-License-Identifier: Apache-2.0
// Synthetic fingerprints for tests, in the spirit of SFinGe: a finger is an orientation field
// from a zero-pole model (cores and deltas placed by pattern class: arch, loop, whorl) and a
// ridge period; its ridges grow from seeded noise by iterated oriented Gabor filtering with
// saturation. An impression is that master pattern seen through a rotation, a translation, a
// smooth elastic distortion and an elliptical contact region, with dry-contact ridge breaks and
// sensor noise. Everything follows from the two seeds, so tests are reproducible.
#include "finger_internal.h"

#include "clearway/alloc.h"
#include "clearway/err.h"

#include <string.h>

enum { MARGIN = 48, GROW_ITERS = 12, SR = 4, SK = 2 * SR + 1, NORI = 16 };

typedef struct rng {
    uint64_t s;
} rng_t;

static uint64_t next(rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float uni(rng_t *r) // [0, 1)
{
    return (float)(next(r) >> 40) / (float)(1ull << 24);
}

static float range(rng_t *r, float lo, float hi)
{
    return lo + (hi - lo) * uni(r);
}

static float gauss(rng_t *r)
{
    float u = uni(r) + 1e-7f, v = uni(r);
    return sqrtf(-2.0f * logf(u)) * cosf(2.0f * (float)M_PI * v);
}

typedef struct pattern {
    int ncore, ndelta;
    float cx[2], cy[2], dx[2], dy[2];
    float rot;    // global rotation of the field
    float period; // ridge period in pixels
} pattern_t;

static void make_pattern(uint32_t finger, int w, int h, pattern_t *p)
{
    rng_t r = {0x5eed0000ull + finger * 0x100000001b3ull};
    memset(p, 0, sizeof(*p));
    float mx = w / 2.0f + range(&r, -0.08f, 0.08f) * w, my = h * range(&r, 0.38f, 0.5f);
    int cls = (int)(next(&r) % 4); // 0 arch-like, 1 left loop, 2 right loop, 3 whorl
    p->period = range(&r, 8.0f, 10.5f);
    p->rot = range(&r, -0.2f, 0.2f);
    if (cls == 0) {
        p->ncore = p->ndelta = 1;
        p->cx[0] = mx;
        p->cy[0] = my;
        p->dx[0] = mx + range(&r, -6, 6);
        p->dy[0] = my + range(&r, 18, 30); // close pair: a tented arch
    } else if (cls <= 2) {
        float side = cls == 1 ? -1.0f : 1.0f;
        p->ncore = p->ndelta = 1;
        p->cx[0] = mx;
        p->cy[0] = my;
        p->dx[0] = mx + side * range(&r, 0.25f, 0.4f) * w;
        p->dy[0] = my + range(&r, 0.25f, 0.35f) * h;
    } else {
        p->ncore = p->ndelta = 2;
        p->cx[0] = mx - range(&r, 6, 14);
        p->cy[0] = my - range(&r, 4, 10);
        p->cx[1] = mx + range(&r, 6, 14);
        p->cy[1] = my + range(&r, 4, 10);
        p->dx[0] = mx - range(&r, 0.32f, 0.42f) * w;
        p->dy[0] = my + range(&r, 0.3f, 0.38f) * h;
        p->dx[1] = mx + range(&r, 0.32f, 0.42f) * w;
        p->dy[1] = my + range(&r, 0.3f, 0.38f) * h;
    }
}

// Ridge direction at (x, y): the zero-pole model (Sherlock and Monro).
static float field(const pattern_t *p, float x, float y)
{
    // With image y pointing down, cores and deltas as placed give horizontal ridges across the
    // top of the finger and concentric ones around a whorl without any offset.
    float t = p->rot;
    for (int i = 0; i < p->ncore; i++) {
        t += 0.5f * atan2f(y - p->cy[i], x - p->cx[i]);
    }
    for (int i = 0; i < p->ndelta; i++) {
        t -= 0.5f * atan2f(y - p->dy[i], x - p->dx[i]);
    }
    return t;
}

// Grow the master ridge pattern (values in [-1, 1], ridges positive) on a w x h canvas that
// samples the finger at half resolution (each canvas pixel is 2 x 2 image pixels): ridges stay
// well sampled (period 4-5 canvas pixels) and growth costs a quarter.
static int grow(uint32_t finger, const pattern_t *p, int w, int h, float *out)
{
    size_t n = (size_t)w * h;
    float *tmp = cw_malloc(n * sizeof(float));
    uint8_t *ori = cw_malloc(n);
    float *bank = cw_malloc(sizeof(float) * NORI * SK * SK);
    if (tmp == NULL || ori == NULL || bank == NULL) {
        cw_free(tmp);
        cw_free(ori);
        cw_free(bank);
        return CW_ENOMEM;
    }
    for (int o = 0; o < NORI; o++) {
        float th = o * (float)M_PI / NORI, c = cosf(th), s = sinf(th);
        float sum = 0, *k = bank + o * SK * SK;
        for (int y = -SR; y <= SR; y++) {
            for (int x = -SR; x <= SR; x++) {
                float along = x * c + y * s, across = -x * s + y * c;
                // The canvas is at half resolution: half the period.
                float per = 0.5f * p->period, sa = 0.3f * per, sl = 3.2f;
                float v = expf(-0.5f * (across * across / (sa * sa) + along * along / (sl * sl))) *
                          cosf(2.0f * (float)M_PI * across / per);
                k[(y + SR) * SK + x + SR] = v;
                sum += fabsf(v);
            }
        }
        for (int i = 0; i < SK * SK; i++) {
            k[i] /= sum;
        }
    }
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            float t = fmodf(field(p, 2.0f * x, 2.0f * y), (float)M_PI);
            if (t < 0) {
                t += (float)M_PI;
            }
            ori[(size_t)y * w + x] = (uint8_t)((int)lrintf(t * NORI / (float)M_PI) % NORI);
        }
    }
    rng_t r = {0xabcdef12ull ^ ((uint64_t)finger << 20)};
    for (size_t i = 0; i < n; i++) {
        out[i] = uni(&r) < 0.05f ? range(&r, -1.0f, 1.0f) : 0.0f;
    }
    for (int it = 0; it < GROW_ITERS; it++) {
        double energy = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                const float *k = bank + ori[(size_t)y * w + x] * SK * SK;
                float acc = 0;
                if (x >= SR && y >= SR && x < w - SR && y < h - SR) {
                    for (int ky = 0; ky < SK; ky++) {
                        const float *row = out + (size_t)(y + ky - SR) * w + x - SR;
                        for (int kx = 0; kx < SK; kx++) {
                            acc += k[ky * SK + kx] * row[kx];
                        }
                    }
                } else {
                    for (int ky = 0; ky < SK; ky++) {
                        int yy = y + ky - SR < 0 ? 0 : y + ky - SR >= h ? h - 1 : y + ky - SR;
                        for (int kx = 0; kx < SK; kx++) {
                            int xx = x + kx - SR < 0 ? 0 : x + kx - SR >= w ? w - 1 : x + kx - SR;
                            acc += k[ky * SK + kx] * out[(size_t)yy * w + xx];
                        }
                    }
                }
                tmp[(size_t)y * w + x] = acc;
                energy += (double)acc * acc;
            }
        }
        float g = energy > 0 ? 2.5f / sqrtf((float)(energy / (double)n)) : 1.0f;
        for (size_t i = 0; i < n; i++) {
            float v = tmp[i] * g; // saturate: ridges become flat-topped and fill the canvas
            out[i] = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
        }
    }
    cw_free(tmp);
    cw_free(ori);
    cw_free(bank);
    return 0;
}

static float bilinear(const float *f, int w, int h, float x, float y)
{
    if (x < 0 || y < 0 || x > w - 1.001f || y > h - 1.001f) {
        return 0.0f;
    }
    int x0 = (int)x, y0 = (int)y;
    float ax = x - x0, ay = y - y0;
    const float *p = f + (size_t)y0 * w + x0;
    return (1 - ay) * ((1 - ax) * p[0] + ax * p[1]) + ay * ((1 - ax) * p[w] + ax * p[w + 1]);
}

int cw_finger_synth(uint32_t finger, uint32_t impression, const cw_finger_synth_params_t *params,
                    cw_image_t *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    cw_finger_synth_params_t p = {240, 280, 15.0f, 20.0f, 3.0f, 12.0f, 0.1f, 0.75f};
    if (params != NULL) {
        p = *params;
    }
    if (out == NULL || p.width < 64 || p.height < 64 || p.width > 1024 || p.height > 1024 ||
        p.contact < 0 || p.contact > 1 || p.dryness < 0 || p.dryness > 1 || p.noise < 0) {
        return CW_EINVAL;
    }
    int mw = (p.width + 2 * MARGIN) / 2, mh = (p.height + 2 * MARGIN) / 2;
    float *master = cw_malloc((size_t)mw * mh * sizeof(float));
    if (master == NULL) {
        return CW_ENOMEM;
    }
    pattern_t pat;
    make_pattern(finger, 2 * mw, 2 * mh, &pat);
    int rc = grow(finger, &pat, mw, mh, master);
    if (rc == 0) {
        rc = cw_image_alloc(p.width, p.height, 1, out);
    }
    if (rc != 0) {
        cw_free_wipe(master, (size_t)mw * mh * sizeof(float));
        return rc;
    }
    rng_t r = {((uint64_t)finger << 32 | impression) * 0x9e3779b97f4a7c15ull + 17};
    float ang = range(&r, -p.rotation, p.rotation) * (float)M_PI / 180.0f;
    float tx = range(&r, -p.translation, p.translation);
    float ty = range(&r, -p.translation, p.translation);
    float ca = cosf(ang), sa = sinf(ang);
    // Elastic distortion: a few smooth random waves.
    float wa[4], wfx[4], wfy[4], wph[4];
    for (int i = 0; i < 4; i++) {
        wa[i] = p.distortion * range(&r, 0.3f, 1.0f);
        wfx[i] = range(&r, -1.0f, 1.0f) * 2.0f * (float)M_PI / 260.0f;
        wfy[i] = range(&r, -1.0f, 1.0f) * 2.0f * (float)M_PI / 260.0f;
        wph[i] = range(&r, 0, 2.0f * (float)M_PI);
    }
    // Contact: an ellipse around the centre, its size set by the contact parameter.
    float cx = p.width / 2.0f + range(&r, -0.06f, 0.06f) * p.width;
    float cy = p.height / 2.0f + range(&r, -0.06f, 0.06f) * p.height;
    float ex = p.width * range(&r, 0.5f * (0.55f + 0.45f * p.contact), 0.5f);
    float ey = p.height * range(&r, 0.5f * (0.55f + 0.45f * p.contact), 0.52f);
    float press = range(&r, 0.8f, 1.0f);
    // Dryness: low-frequency blobs where ridges lose contact.
    float da[3], dfx[3], dfy[3], dph[3];
    for (int i = 0; i < 3; i++) {
        da[i] = 1.0f;
        dfx[i] = range(&r, -1, 1) * 2.0f * (float)M_PI / 25.0f;
        dfy[i] = range(&r, -1, 1) * 2.0f * (float)M_PI / 25.0f;
        dph[i] = range(&r, 0, 2.0f * (float)M_PI);
    }
    float hw = p.width / 2.0f, hh = p.height / 2.0f;
    for (int y = 0; y < p.height; y++) {
        for (int x = 0; x < p.width; x++) {
            float u = x - hw, v = y - hh;
            float sx = ca * u - sa * v + tx, sy = sa * u + ca * v + ty;
            for (int i = 0; i < 4; i++) {
                float ph = wfx[i] * x + wfy[i] * y + wph[i];
                sx += wa[i] * sinf(ph);
                sy += wa[i] * cosf(ph + 0.7f * i);
            }
            float ridge = bilinear(master, mw, mh, 0.5f * sx + mw / 2.0f, 0.5f * sy + mh / 2.0f);
            float du = (x - cx) / ex, dv = (y - cy) / ey;
            float rr = du * du + dv * dv;
            float contact = rr < 0.8f ? 1.0f : rr > 1.0f ? 0.0f : (1.0f - rr) / 0.2f;
            float dry = 0;
            for (int i = 0; i < 3; i++) {
                dry += da[i] * sinf(dfx[i] * x + dfy[i] * y + dph[i]);
            }
            float keep = dry / 3.0f + 0.5f > p.dryness ? 1.0f : 0.25f;
            float ink = ridge > 0 ? ridge * keep : ridge * 0.3f;
            float g = 215.0f - 150.0f * press * contact * (0.5f * ink + 0.5f) * (ridge > 0) -
                      20.0f * contact;
            g += p.noise * gauss(&r);
            out->data[(size_t)y * out->stride + x] = (uint8_t)(g < 0     ? 0
                                                               : g > 255 ? 255
                                                                         : (int)lrintf(g));
        }
    }
    cw_free_wipe(master, (size_t)mw * mh * sizeof(float));
    return 0;
}
