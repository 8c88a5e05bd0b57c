#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// How close the C face pipeline comes to the reference: runs `clearway face detect --json` and
// `clearway face embed --json` on the face-api demo photos and compares them with
// tests/fixtures/face/reference.txt (a C face matches the reference face, or one of its
// near-tied rivals, with the best IoU). Also embeds C's own landmarks with the reference
// pipeline, so the embedding of the same aligned crop is compared apart from detection.
// A diagnostic for people; tests/unit/face/test_reference.c is the test.
//
// Usage: node tools/reference/face_agreement.js [--clearway PATH] [--deps DIR]
//   (default PATH build/release/src/cli/clearway, DIR the checkout's .deps)
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const R = require('./face_reference');

const top = path.resolve(__dirname, '..', '..');
const TOL = { iou: 0.95, lm: 1.5, cos: 0.999 };

// reference.txt -> [{name, width, height, subject, faces: [{box, score, lm, embedding, rivals}]}]
function readFixture(file) {
  const tok = fs.readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith('#'))
    .join(' ').split(/\s+/).filter(Boolean);
  let i = 0;
  const next = () => tok[i++];
  const num = () => Number(next());
  const expect = (w) => {
    const t = next();
    if (t !== w) throw new Error(`expected ${w}, got ${t}`);
  };
  const record = (kind) => {
    num();
    const box = [num(), num(), num(), num()];
    const score = num();
    const lm = [0, 1, 2, 3, 4].map(() => [num(), num()]);
    let rivals = 0;
    if (kind === 'face') { expect('rivals'); rivals = num(); }
    expect('align');
    const m = [0, 1, 2, 3, 4, 5].map(num);
    expect('embedding');
    const embedding = Array.from({ length: num() }, num);
    return { box, score, lm, m, embedding, rivals };
  };
  const images = [];
  while (i < tok.length) {
    const t = next();
    if (t === 'model') { next(); next(); } else if (t === 'config') {
      while (i < tok.length && tok[i] !== 'image') i++;
    } else if (t === 'image') {
      const img = { name: next(), sha: next(), width: num(), height: num(), faces: [] };
      expect('faces');
      const n = num();
      expect('subject');
      img.subject = num();
      for (let k = 0; k < n; k++) {
        expect('face');
        const f = record('face');
        const rivals = [];
        for (let r = 0; r < f.rivals; r++) { expect('rival'); rivals.push(record('rival')); }
        f.rivals = rivals;
        img.faces.push(f);
      }
      images.push(img);
    } else {
      throw new Error(`unexpected token ${t}`);
    }
  }
  return images;
}

function iou(a, b) {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

function cosine(a, b) {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < a.length; k++) { d += a[k] * b[k]; na += a[k] * a[k]; nb += b[k] * b[k]; }
  return d / Math.sqrt(na * nb);
}

async function main() {
  const args = process.argv.slice(2);
  let cli = path.join(top, 'build', 'release', 'src', 'cli', 'clearway');
  let deps = process.env.CLEARWAY_DEPS || path.join(top, '.deps');
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--clearway' && i + 1 < args.length) cli = args[++i];
    else if (args[i] === '--deps' && i + 1 < args.length) deps = args[++i];
    else {
      console.error('usage: face_agreement.js [--clearway PATH] [--deps DIR]');
      process.exit(2);
    }
  }
  const env = { ...process.env, CLEARWAY_DEPS: path.resolve(deps) };
  const run = (sub, file) => JSON.parse(execFileSync(cli, ['face', sub, file, '--json'], { env }));
  const models = new R.Models(deps);
  const fixture = readFixture(path.join(top, 'tests', 'fixtures', 'face', 'reference.txt'));
  let bad = 0;
  const worst = { iou: 1, lm: 0, cos: 1, crop: 1 };
  for (const ref of fixture) {
    const file = path.join(deps, 'npm', 'face-api', 'demo', ref.name);
    const det = run('detect', file);
    const emb = run('embed', file);
    console.log(`${ref.name}: C ${det.faces.length} faces (subject ${det.subject}), ` +
      `reference ${ref.faces.length} (subject ${ref.subject})`);
    const img = R.decodeJpeg(fs.readFileSync(file));
    const matched = new Set();
    for (const [k, cf] of det.faces.entries()) {
      let best = null;
      ref.faces.forEach((rf, q) => [rf, ...rf.rivals].forEach((cand, r) => {
        const v = iou(cf.box, cand.box);
        if (!best || v > best.iou) best = { iou: v, q, r, cand };
      }));
      if (!best || best.iou < 0.5) {
        console.log(`  C face ${k}: no reference face`);
        bad++;
        continue;
      }
      matched.add(best.q);
      const lm = Math.max(...cf.landmarks.map((p, t) =>
        Math.hypot(p[0] - best.cand.lm[t][0], p[1] - best.cand.lm[t][1])));
      let line = `  C face ${k} ~ ref ${best.q}${best.r ? ` (rival ${best.r - 1})` : ''}: ` +
        `IoU ${best.iou.toFixed(4)}, landmarks ${lm.toFixed(3)} px, score ` +
        `${cf.score.toFixed(6)} / ${best.cand.score.toFixed(6)}`;
      let ok = best.iou >= TOL.iou && lm <= TOL.lm;
      worst.iou = Math.min(worst.iou, best.iou);
      worst.lm = Math.max(worst.lm, lm);
      if (k === det.subject) {
        const c = cosine(emb.embedding, best.cand.embedding);
        // The same aligned crop: C's landmarks through the reference warp and interpreter.
        const crop = await R.embed(models, img, R.align({ lm: cf.landmarks }));
        const same = cosine(emb.embedding, crop);
        line += `; subject template cos ${c.toFixed(5)} (${same.toFixed(5)} on C's own crop)`;
        worst.cos = Math.min(worst.cos, c);
        worst.crop = Math.min(worst.crop, same);
        ok = ok && c >= TOL.cos && same >= TOL.cos;
      }
      if (!ok) bad++;
      console.log(`${line}${ok ? '' : '   <-- out of tolerance'}`);
    }
    ref.faces.forEach((rf, q) => {
      if (!matched.has(q)) {
        console.log(`  ref face ${q}: not found by C`);
        bad++;
      }
    });
  }
  console.log(`worst: IoU ${worst.iou.toFixed(4)}, landmarks ${worst.lm.toFixed(3)} px, subject ` +
    `cos ${worst.cos.toFixed(5)} (same crop ${worst.crop.toFixed(5)}); ` +
    `${bad} out of tolerance (IoU >= ${TOL.iou}, <= ${TOL.lm} px, cos >= ${TOL.cos})`);
  process.exit(bad ? 1 : 0);
}

main().catch((e) => { console.error(`face_agreement: ${e.stack || e.message}`); process.exit(1); });
