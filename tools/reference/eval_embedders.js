#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Compares face embedders on the detections of one `clearway eval face --dump` run, so that
// every candidate sees the same faces and landmarks: MobileFaceNet (the dump's own flip-averaged
// templates) against faceplugin's fr_feature.onnx (run here by onnxruntime-node, with and
// without flip averaging), and score-level fusions of the two. For each it prints the metrics
// of `clearway eval face`, computed the same way (src/cli/cmd_eval.c): LFW 10-fold accuracy on
// the pairs file (folds in file order, threshold chosen on nine folds), EER and FNMR at FMR 1e-3
// and 1e-4 over every genuine and impostor pair of the set (from the C tool's 1e-5-wide
// histogram, and exactly from the sorted scores), and 1:N rank-1 with each person's first photo
// enrolled. It is a measurement tool: nothing in the build or the tests runs it.
//
// fr_feature input: the 5-point least-squares similarity alignment onto the ArcFace 112 x 112
// template (face_reference.js `align`, landmarks shifted by -0.5 into pixel-index space),
// bilinear with border 0, RGB (v - 127) / 128, NCHW [1,3,112,112]; the output [1,512] is raw.
// "flip" = the mean of the crop's and its mirror image's raw outputs, then L2-normalised.
//
// Usage, from the checkout, after tools/setup/setup.sh,
// (cd tools/reference && npm ci --ignore-scripts) and
// build/release/src/cli/clearway eval face --root ../shared/data/faces/lfw-dev \
//     --pairs ../shared/data/faces/lfw-dev-pairs.tsv --dump /tmp/lfw_dump_mfn.tsv:
//   node tools/reference/eval_embedders.js --dump /tmp/lfw_dump_mfn.tsv
//       [--root DIR] [--pairs FILE] [--features FILE] [--threads N] [--json FILE] [--mfn-only]
// --features caches fr_feature's raw outputs (crop and mirror) for the dump's photos: read when
// the file exists and matches the dump, else computed and written. --mfn-only checks the metric
// code on the dump's templates alone. Deps (the model) from $CLEARWAY_DEPS, default .deps.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { decodeJpeg, align, warpAffine } = require('./face_reference');

const top = path.resolve(__dirname, '..', '..');
const SIDE = 112;
const FR_DIM = 512;
const SCORE_BINS = 200001; // as cmd_eval.c: cosine scores over [-1, 1], 1e-5 wide
const FOLDS = 10;
const FMRS = [1e-3, 1e-4];

// ---------------------------------------------------------------------------------------------
// Inputs

// The dump: one photo a line, in the C tool's order (people by name, photos by number).
function readDump(file) {
  const photos = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line === '' || line[0] === '#') continue;
    const f = line.split('\t');
    if (f.length < 6) throw new Error(`${file}: short line: ${line.slice(0, 80)}`);
    const lmv = f[4].trim().split(/\s+/).map(Number);
    const tv = f[5].trim().split(/\s+/).map(Number);
    const dim = tv[0];
    if (lmv.length !== 10 || tv.length !== dim + 1) {
      throw new Error(`${file}: bad landmarks or template for ${f[0]} ${f[1]}`);
    }
    photos.push({ name: f[0], number: parseInt(f[1], 10), found: f[2] === '1',
      lm: [0, 1, 2, 3, 4].map((k) => [lmv[2 * k], lmv[2 * k + 1]]),
      mfn: Float64Array.from(tv.slice(1)) });
  }
  return photos;
}

function readPairs(file, index) {
  const pairs = [];
  let missing = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line === '' || line[0] === '#') continue;
    const f = line.trim().split(/\s+/);
    if (f.length !== 5 || (f[0] !== 'same' && f[0] !== 'diff')) {
      throw new Error(`${file}: expected 'same|diff NAME N NAME N': ${line}`);
    }
    const a = index.get(`${f[1]}\t${parseInt(f[2], 10)}`);
    const b = index.get(`${f[3]}\t${parseInt(f[4], 10)}`);
    if (a === undefined || b === undefined) {
      missing++;
      continue;
    }
    pairs.push({ a, b, same: f[0] === 'same' });
  }
  return { pairs, missing };
}

// ---------------------------------------------------------------------------------------------
// fr_feature

function photoPath(root, p) {
  return path.join(root, p.name, `${p.name}_${String(p.number).padStart(4, '0')}.jpg`);
}

// HWC crop -> NCHW tensor data, straight and mirrored.
function toNchw(crop) {
  const plane = SIDE * SIDE;
  const a = new Float32Array(3 * plane);
  const b = new Float32Array(3 * plane);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const s = (y * SIDE + x) * 3;
      for (let c = 0; c < 3; c++) {
        a[c * plane + y * SIDE + x] = crop[s + c];
        b[c * plane + y * SIDE + (SIDE - 1 - x)] = crop[s + c];
      }
    }
  }
  return [a, b];
}

function dumpKey(photos) {
  const h = crypto.createHash('sha256');
  for (const p of photos) h.update(`${p.name}\t${p.number}\t${p.lm.flat().join(' ')}\n`);
  return h.digest('hex');
}

// -> {feats: Float32Array(n * 2 * 512) raw outputs [crop, mirror] per photo, timing}
async function frFeatures(opts, photos) {
  const key = dumpKey(photos);
  if (opts.features && fs.existsSync(opts.features)) {
    const buf = fs.readFileSync(opts.features);
    const nl = buf.indexOf(10);
    const head = JSON.parse(buf.subarray(0, nl).toString('utf8'));
    if (head.key === key && head.n === photos.length && head.dim === FR_DIM) {
      const body = buf.subarray(nl + 1);
      const feats = new Float32Array(body.buffer.slice(body.byteOffset,
        body.byteOffset + body.length));
      if (feats.length === photos.length * 2 * FR_DIM) {
        console.error(`eval_embedders: fr_feature outputs read from ${opts.features}`);
        return { feats, timing: head.timing };
      }
    }
    console.error(`eval_embedders: ${opts.features} does not match the dump; recomputing`);
  }
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(opts.model, {
    intraOpNumThreads: opts.threads, interOpNumThreads: 1, executionProviders: ['cpu'] });
  const feats = new Float32Array(photos.length * 2 * FR_DIM);
  const runMs = [];
  let decodeMs = 0;
  let warpMs = 0;
  const t0 = Date.now();
  // One warm-up run so that the first photo's timing is not the session's first call.
  await session.run({ input: new ort.Tensor('float32', new Float32Array(3 * SIDE * SIDE),
    [1, 3, SIDE, SIDE]) });
  for (let i = 0; i < photos.length; i++) {
    const p = photos[i];
    if (!p.found) throw new Error(`no face in the dump for ${p.name} ${p.number}`);
    let t = process.hrtime.bigint();
    const img = decodeJpeg(fs.readFileSync(photoPath(opts.root, p)));
    decodeMs += Number(process.hrtime.bigint() - t) / 1e6;
    t = process.hrtime.bigint();
    const m = align({ lm: p.lm });
    if (m === null) throw new Error(`degenerate landmarks for ${p.name} ${p.number}`);
    const inputs = toNchw(warpAffine(img, m, SIDE, SIDE, 127, 1 / 128));
    warpMs += Number(process.hrtime.bigint() - t) / 1e6;
    for (let k = 0; k < 2; k++) {
      t = process.hrtime.bigint();
      const out = await session.run({ input: new ort.Tensor('float32', inputs[k],
        [1, 3, SIDE, SIDE]) });
      runMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      feats.set(out.output.data, (2 * i + k) * FR_DIM);
    }
    if ((i + 1) % 500 === 0 || i + 1 === photos.length) {
      console.error(`eval_embedders: fr_feature ${i + 1}/${photos.length} photos, ` +
        `${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  const sorted = runMs.slice().sort((x, y) => x - y);
  const timing = {
    ort_threads: opts.threads,
    run_ms_mean: runMs.reduce((a, b) => a + b, 0) / runMs.length,
    run_ms_p50: sorted[Math.floor(sorted.length / 2)],
    run_ms_p99: sorted[Math.floor(sorted.length * 0.99)],
    decode_ms_mean: decodeMs / photos.length,
    align_warp_ms_mean: warpMs / photos.length,
    runs: runMs.length,
  };
  if (opts.features) {
    const head = Buffer.from(`${JSON.stringify({ key, n: photos.length, dim: FR_DIM, timing })}\n`);
    fs.writeFileSync(opts.features, Buffer.concat([head, Buffer.from(feats.buffer)]));
  }
  return { feats, timing };
}

// ---------------------------------------------------------------------------------------------
// Templates and scores

function normalised(v) {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const k = 1 / Math.sqrt(s);
  return Float64Array.from(v, (x) => x * k);
}

// Row-major n x dim matrix of templates.
function matrix(list) {
  const dim = list[0].length;
  const m = new Float64Array(list.length * dim);
  list.forEach((v, i) => m.set(v, i * dim));
  return { m, dim };
}

// The C tool's score: float32 of the clamped dot product.
function cosine(t, i, j) {
  const { m, dim } = t;
  let s = 0;
  const a = i * dim;
  const b = j * dim;
  for (let k = 0; k < dim; k++) s += m[a + k] * m[b + k];
  return Math.fround(s > 1 ? 1 : s < -1 ? -1 : s);
}

// ---------------------------------------------------------------------------------------------
// Metrics, as src/cli/cmd_eval.c computes them

function foldAccuracy(scores, same, f) {
  const n = scores.length;
  const inFold = (i) => Math.floor((i * FOLDS) / n) === f;
  const train = [];
  for (let i = 0; i < n; i++) if (!inFold(i)) train.push(scores[i]);
  const s = Float32Array.from(train).sort();
  const m = s.length;
  let bestAcc = -1;
  let bestT = 0;
  for (let c = 0; c <= m; c++) {
    if (c > 0 && c < m && s[c - 1] === s[c]) continue;
    const t = Math.fround(c === 0 ? s[0] - 1e-4 : c === m ? s[m - 1] + 1e-4 :
      Math.fround(0.5 * (s[c - 1] + s[c])));
    let right = 0;
    for (let i = 0; i < n; i++) if (!inFold(i) && (scores[i] >= t) === same[i]) right++;
    if (right / m > bestAcc) {
      bestAcc = right / m;
      bestT = t;
    }
  }
  let right = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (inFold(i)) {
      right += (scores[i] >= bestT) === same[i];
      total++;
    }
  }
  return { acc: right / total, threshold: bestT };
}

function lfw(scores, same) {
  const folds = [];
  for (let f = 0; f < FOLDS; f++) folds.push(foldAccuracy(scores, same, f));
  const mean = folds.reduce((a, r) => a + r.acc, 0) / FOLDS;
  const sd = Math.sqrt(folds.reduce((a, r) => a + (r.acc - mean) ** 2, 0) / FOLDS);
  return { accuracy: mean, stddev: sd, thresholds: folds.map((r) => r.threshold) };
}

function scoreBin(s) {
  const b = Math.round((s + 1) * 0.5 * (SCORE_BINS - 1)); // lround: positive here, ties up
  return b < 0 ? 0 : b >= SCORE_BINS ? SCORE_BINS - 1 : b;
}

const binScore = (b) => (b / (SCORE_BINS - 1)) * 2 - 1;

// EER and FNMR at each FMR from 1e-5-wide histograms (cmd_eval.c compute_rates / at_fmr).
function ratesHist(gen, imp) {
  const hg = new Float64Array(SCORE_BINS);
  const hi = new Float64Array(SCORE_BINS);
  for (const s of gen) hg[scoreBin(s)]++;
  for (let k = 0; k < imp.length; k++) hi[scoreBin(imp[k])]++;
  const ng = gen.length;
  const ni = imp.length;
  let rej = 0;
  let acc = ni;
  let eer = 1;
  let eerT = 0;
  for (let b = 0; b < SCORE_BINS; b++) {
    const fnmr = rej / ng;
    const fmr = acc / ni;
    if (fnmr >= fmr) {
      eer = 0.5 * (fnmr + fmr);
      eerT = binScore(b);
      break;
    }
    rej += hg[b];
    acc -= hi[b];
  }
  const at = FMRS.map((fmr) => {
    let cum = 0;
    let b = SCORE_BINS - 1;
    for (; b >= 0; b--) {
      if (cum + hi[b] > fmr * ni) break;
      cum += hi[b];
    }
    let rejected = 0;
    for (let k = 0; k <= b; k++) rejected += hg[k];
    return { fmr, fnmr: rejected / ng,
      threshold: b + 1 < SCORE_BINS ? binScore(b) + 0.5 * (2 / (SCORE_BINS - 1)) : 1 };
  });
  return { eer, eer_threshold: eerT, at };
}

// Number of values of the ascending array a that are < t.
function below(a, t) {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The same from the sorted scores: accept s > the (floor(fmr n) + 1)-th highest impostor score.
function ratesExact(genSorted, impSorted) {
  const ng = genSorted.length;
  const ni = impSorted.length;
  const fnmrAt = (t) => below(genSorted, t) / ng; // reject s < t
  const fmrAt = (t) => (ni - below(impSorted, t)) / ni; // accept s >= t
  let lo = Math.min(genSorted[0], impSorted[0]) - 1;
  let hi = Math.max(genSorted[ng - 1], impSorted[ni - 1]) + 1;
  for (let it = 0; it < 100; it++) {
    const mid = 0.5 * (lo + hi);
    if (fnmrAt(mid) >= fmrAt(mid)) hi = mid;
    else lo = mid;
  }
  const eer = 0.5 * (fnmrAt(hi) + fmrAt(hi));
  const at = FMRS.map((fmr) => {
    const k = Math.floor(fmr * ni);
    const v = impSorted[ni - 1 - k]; // accept only s > v
    const rejected = below(genSorted, v) + countEqual(genSorted, v); // s <= v
    return { fmr, fnmr: rejected / ng, threshold: v };
  });
  return { eer, eer_threshold: hi, at };
}

function countEqual(a, v) {
  let i = below(a, v);
  let c = 0;
  while (i < a.length && a[i] === v) {
    i++;
    c++;
  }
  return c;
}

// Rank-1: each person's first photo enrolled, every other photo searched; ties go to the
// person first in order (strict >), as the C tool. Probe x gallery scores are computed once per
// embedder and combined for the fusions.
function searchSet(photos) {
  const first = new Map();
  const gallery = [];
  photos.forEach((p, i) => {
    if (!first.has(p.name)) {
      first.set(p.name, gallery.length);
      gallery.push(i);
    }
  });
  const probes = [];
  const truth = [];
  photos.forEach((p, i) => {
    const g = first.get(p.name);
    if (gallery[g] !== i) {
      probes.push(i);
      truth.push(g);
    }
  });
  return { gallery, probes, truth };
}

function probeGallery(set, score) {
  const G = set.gallery.length;
  const pg = new Float32Array(set.probes.length * G);
  set.probes.forEach((i, p) => {
    for (let g = 0; g < G; g++) pg[p * G + g] = score(i, set.gallery[g]);
  });
  return pg;
}

function rank1(set, pg) {
  const G = set.gallery.length;
  let correct = 0;
  for (let p = 0; p < set.probes.length; p++) {
    let best = -Infinity;
    let bestG = -1;
    for (let g = 0; g < G; g++) {
      if (pg[p * G + g] > best) {
        best = pg[p * G + g];
        bestG = g;
      }
    }
    correct += bestG === set.truth[p];
  }
  return { gallery: G, probes: set.probes.length, correct, rate: correct / set.probes.length };
}

// ---------------------------------------------------------------------------------------------

function meanSd(a) {
  let s = 0;
  let s2 = 0;
  for (let k = 0; k < a.length; k++) {
    s += a[k];
    s2 += a[k] * a[k];
  }
  const mu = s / a.length;
  return { mean: mu, sd: Math.sqrt(Math.max(0, s2 / a.length - mu * mu)) };
}

function pearson(x, y) {
  const n = x.length;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let k = 0; k < n; k++) {
    sx += x[k]; sy += y[k]; sxx += x[k] * x[k]; syy += y[k] * y[k]; sxy += x[k] * y[k];
  }
  const cov = sxy / n - (sx / n) * (sy / n);
  return cov / Math.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2));
}

function usage() {
  console.error('usage: eval_embedders.js --dump FILE [--root DIR] [--pairs FILE] ' +
    '[--features FILE] [--model ONNX] [--threads N] [--json FILE] [--mfn-only]');
  process.exit(2);
}

function parseArgs() {
  const deps = process.env.CLEARWAY_DEPS || path.join(top, '.deps');
  const faces = path.join(top, '..', 'shared', 'data', 'faces');
  const o = { dump: null, root: path.join(faces, 'lfw-dev'),
    pairs: path.join(faces, 'lfw-dev-pairs.tsv'), features: null,
    model: path.join(deps, 'npm', 'faceplugin', 'model', 'fr_feature.onnx'), threads: 1,
    json: null, mfnOnly: false };
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const val = () => (i + 1 < args.length ? args[++i] : usage());
    if (a === '--dump') o.dump = val();
    else if (a === '--root') o.root = val();
    else if (a === '--pairs') o.pairs = val();
    else if (a === '--features') o.features = val();
    else if (a === '--model') o.model = val();
    else if (a === '--threads') o.threads = Math.max(1, parseInt(val(), 10) || 1);
    else if (a === '--json') o.json = val();
    else if (a === '--mfn-only') o.mfnOnly = true;
    else usage();
  }
  if (!o.dump) usage();
  return o;
}

const pct = (x, d = 2) => `${(100 * x).toFixed(d)}%`;

async function main() {
  const opts = parseArgs();
  const photos = readDump(opts.dump);
  const index = new Map(photos.map((p, i) => [`${p.name}\t${p.number}`, i]));
  for (let i = 1; i < photos.length; i++) {
    const a = photos[i - 1];
    const b = photos[i];
    if (a.name > b.name || (a.name === b.name && a.number >= b.number)) {
      throw new Error('the dump is not in (name, number) order');
    }
  }
  const { pairs, missing } = readPairs(opts.pairs, index);
  const n = photos.length;
  console.error(`eval_embedders: ${n} photos, ${new Set(photos.map((p) => p.name)).size} ` +
    `people, ${pairs.length} pairs (${missing} missing)`);

  // Embedders: templates (n x dim) compared by the C tool's cosine.
  const emb = [{ key: 'mfn', label: '(a) MobileFaceNet, flip (dump)',
    t: matrix(photos.map((p) => p.mfn)) }];
  let timing = null;
  if (!opts.mfnOnly) {
    const r = await frFeatures(opts, photos);
    timing = r.timing;
    const raw = (i, k) => r.feats.subarray((2 * i + k) * FR_DIM, (2 * i + k + 1) * FR_DIM);
    emb.push({ key: 'fr', label: '(b) fr_feature',
      t: matrix(photos.map((_, i) => normalised(raw(i, 0)))) });
    emb.push({ key: 'fr_flip', label: '(c) fr_feature, flip',
      t: matrix(photos.map((_, i) => normalised(raw(i, 0).map((v, k) => v + raw(i, 1)[k])))) });
    const self = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u = normalised(raw(i, 0));
      const v = normalised(raw(i, 1));
      for (let k = 0; k < FR_DIM; k++) self[i] += u[k] * v[k];
    }
    const ms = meanSd(self);
    console.error(`eval_embedders: fr_feature crop/mirror cosine mean ${ms.mean.toFixed(4)} ` +
      `sd ${ms.sd.toFixed(4)}`);
  }

  // All pairs, every embedder in one pass.
  const person = new Int32Array(n);
  {
    const ids = new Map();
    photos.forEach((p, i) => {
      if (!ids.has(p.name)) ids.set(p.name, ids.size);
      person[i] = ids.get(p.name);
    });
  }
  let nGen = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n && person[j] === person[i]; j++) nGen++;
  const nImp = (n * (n - 1)) / 2 - nGen;
  const E = emb.length;
  const gen = emb.map(() => new Float32Array(nGen));
  const imp = emb.map(() => new Float32Array(nImp));
  const genA = new Int32Array(nGen);
  const genB = new Int32Array(nGen);
  let g = 0;
  let q = 0;
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (person[i] === person[j]) {
        for (let e = 0; e < E; e++) gen[e][g] = cosine(emb[e].t, i, j);
        genA[g] = i;
        genB[g] = j;
        g++;
      } else {
        for (let e = 0; e < E; e++) imp[e][q] = cosine(emb[e].t, i, j);
        q++;
      }
    }
  }
  console.error(`eval_embedders: ${nGen} genuine, ${nImp} impostor pairs scored in ` +
    `${((Date.now() - t0) / 1000).toFixed(0)} s`);

  // Configurations: each embedder, and for each fr_feature variant two fusions with MobileFaceNet:
  // the mean of the cosines, and the mean of the scores z-normalised by each embedder's impostor
  // mean and sd over all impostor pairs (an affine map per embedder, so a weighted sum).
  const stats = emb.map((_, e) => meanSd(imp[e]));
  const set = searchSet(photos);
  const pgs = emb.map((x) => probeGallery(set, (i, j) => cosine(x.t, i, j)));
  const configs = emb.map((x, e) => ({ key: x.key, label: x.label, gen: gen[e], imp: imp[e],
    score: (i, j) => cosine(x.t, i, j), pg: pgs[e], hist: true }));
  for (let e = 1; e < E; e++) {
    const fuse = (sa, sb) => 0.5 * (sa + sb);
    const z = (sa, sb) => 0.5 * ((sa - stats[0].mean) / stats[0].sd +
      (sb - stats[e].mean) / stats[e].sd);
    for (const [tag, fn, hist] of [['mean', fuse, true], ['z', z, false]]) {
      const fg = new Float32Array(nGen);
      const fi = new Float32Array(nImp);
      const fp = new Float32Array(pgs[0].length);
      for (let k = 0; k < fp.length; k++) fp[k] = fn(pgs[0][k], pgs[e][k]);
      for (let k = 0; k < nGen; k++) fg[k] = fn(gen[0][k], gen[e][k]);
      for (let k = 0; k < nImp; k++) fi[k] = fn(imp[0][k], imp[e][k]);
      configs.push({ key: `fuse_${tag}_mfn_${emb[e].key}`,
        label: `fusion ${tag === 'mean' ? 'mean' : 'z-norm'} (a)+${emb[e].label.slice(0, 3)}`,
        gen: fg, imp: fi, pg: fp, hist,
        score: (i, j) => fn(cosine(emb[0].t, i, j), cosine(emb[e].t, i, j)) });
    }
  }

  const same = pairs.map((p) => p.same);
  const results = [];
  for (const c of configs) {
    const t = Date.now();
    const lfwR = lfw(pairs.map((p) => c.score(p.a, p.b)), same);
    const hist = c.hist ? ratesHist(c.gen, c.imp) : null;
    const gs = Float32Array.from(c.gen).sort();
    const is = Float32Array.from(c.imp).sort();
    const exact = ratesExact(gs, is);
    const r1 = rank1(set, c.pg);
    const res = { key: c.key, label: c.label, lfw: lfwR, hist, exact, rank1: r1,
      genuine: nGen, impostor: nImp };
    results.push(res);
    c.thr = exact.at.map((a) => a.threshold);
    const rates = hist || exact;
    console.error(`eval_embedders: ${c.label}: LFW ${pct(lfwR.accuracy)} +- ` +
      `${(100 * lfwR.stddev).toFixed(2)}, EER ${pct(rates.eer)}, FNMR ${pct(rates.at[0].fnmr)} / ` +
      `${pct(rates.at[1].fnmr)}, rank-1 ${pct(r1.rate)} ` +
      `(${((Date.now() - t) / 1000).toFixed(0)} s)`);
  }

  // Report.
  const out = [];
  out.push(`photos ${n}, genuine pairs ${nGen}, impostor pairs ${nImp}, ` +
    `LFW pairs ${pairs.length}`);
  if (timing) {
    out.push(`fr_feature (onnxruntime-node ${require('onnxruntime-node/package.json').version}, ` +
      `CPU, ${timing.ort_threads} thread): ${timing.run_ms_mean.toFixed(2)} ms mean, ` +
      `${timing.run_ms_p50.toFixed(2)} p50, ${timing.run_ms_p99.toFixed(2)} p99 per 112x112 run ` +
      `(${timing.runs} runs); decode ${timing.decode_ms_mean.toFixed(2)} ms, align+warp ` +
      `${timing.align_warp_ms_mean.toFixed(2)} ms per photo`);
  }
  out.push('');
  out.push('| configuration | LFW 10-fold | EER | FNMR @ FMR 1e-3 (thr) | ' +
    'FNMR @ FMR 1e-4 (thr) | rank-1 | exact: EER, FNMR 1e-3 (thr), 1e-4 (thr) |');
  out.push('|---|---|---|---|---|---|---|');
  for (const r of results) {
    const h = r.hist;
    const x = r.exact;
    const thr = (v) => v.toFixed(4);
    out.push(`| ${r.label} | ${pct(r.lfw.accuracy)} ± ${(100 * r.lfw.stddev).toFixed(2)} | ` +
      (h ? `${pct(h.eer)} | ${pct(h.at[0].fnmr)} (${thr(h.at[0].threshold)}) | ` +
        `${pct(h.at[1].fnmr)} (${thr(h.at[1].threshold)}) | ` : '— | — | — | ') +
      `${pct(r.rank1.rate)} (${r.rank1.correct}/${r.rank1.probes}) | ${pct(x.eer)}, ` +
      `${pct(x.at[0].fnmr)} (${thr(x.at[0].threshold)}), ${pct(x.at[1].fnmr)} ` +
      `(${thr(x.at[1].threshold)}) |`);
  }
  out.push('');
  out.push('impostor score mean / sd: ' + emb.map((x, e) =>
    `${x.key} ${stats[e].mean.toFixed(4)} / ${stats[e].sd.toFixed(4)}`).join(', '));

  // Where the embedders disagree, at each one's own FMR 1e-3 threshold (exact).
  const analysis = [];
  for (let e = 1; e < E; e++) {
    const ta = configs[0].thr[0];
    const tb = configs[e].thr[0];
    let both = 0;
    let onlyA = 0;
    let onlyB = 0;
    const perPhoto = new Map();
    for (let k = 0; k < nGen; k++) {
      const ra = gen[0][k] <= ta;
      const rb = gen[e][k] <= tb;
      if (ra && rb) {
        both++;
        for (const i of [genA[k], genB[k]]) perPhoto.set(i, (perPhoto.get(i) || 0) + 1);
      } else if (ra) onlyA++;
      else if (rb) onlyB++;
    }
    let impBoth = 0;
    for (let k = 0; k < nImp; k++) impBoth += imp[0][k] > ta && imp[e][k] > tb;
    const worst = [...perPhoto.entries()].sort((x, y) => y[1] - x[1]).slice(0, 8)
      .map(([i, c]) => `${photos[i].name}_${String(photos[i].number).padStart(4, '0')} (${c})`);
    const lfwDis = pairs.map((p) => [cosine(emb[0].t, p.a, p.b) > ta,
      cosine(emb[e].t, p.a, p.b) > tb, p.same]);
    const lfwGenRej = (f) => lfwDis.filter((d) => d[2] && f(d)).length;
    const a = { with: emb[e].key, thr_a: ta, thr_b: tb, genuine_rejected_both: both,
      genuine_rejected_only_mfn: onlyA, genuine_rejected_only_other: onlyB,
      impostor_accepted_both: impBoth,
      pearson_genuine: pearson(gen[0], gen[e]),
      pearson_impostor_first_1M: pearson(imp[0].subarray(0, 1e6), imp[e].subarray(0, 1e6)),
      lfw_same_rejected_both: lfwGenRej((d) => !d[0] && !d[1]),
      lfw_same_rejected_only_mfn: lfwGenRej((d) => !d[0] && d[1]),
      lfw_same_rejected_only_other: lfwGenRej((d) => d[0] && !d[1]),
      photos_most_in_both_rejected: worst };
    analysis.push(a);
    out.push('');
    out.push(`(a) vs ${emb[e].label} at FMR 1e-3 thresholds ${ta.toFixed(4)} / ${tb.toFixed(4)}: ` +
      `genuine pairs rejected by both ${both}, by (a) only ${onlyA}, by ${emb[e].key} only ` +
      `${onlyB} (of ${nGen}); impostor pairs accepted by both ${impBoth} (of ${nImp}); LFW ` +
      `'same' pairs rejected by both ${a.lfw_same_rejected_both}, (a) only ` +
      `${a.lfw_same_rejected_only_mfn}, ${emb[e].key} only ${a.lfw_same_rejected_only_other}; ` +
      `score correlation genuine ${a.pearson_genuine.toFixed(3)}, impostor ` +
      `${a.pearson_impostor_first_1M.toFixed(3)} (first 1M)`);
    out.push(`  photos in most both-rejected genuine pairs: ${worst.join(', ')}`);
  }
  console.log(out.join('\n'));
  if (opts.json) {
    fs.writeFileSync(opts.json, `${JSON.stringify({ photos: n, pairs: pairs.length, missing,
      timing, impostor_stats: emb.map((x, e) => ({ key: x.key, ...stats[e] })), results,
      analysis }, null, 1)}\n`);
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`eval_embedders: ${e.stack || e.message}`);
    process.exit(1);
  });
}
