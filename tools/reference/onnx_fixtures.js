#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Writes tests/fixtures/nn/fr_feature.txt: the output of faceplugin's fr_feature.onnx, run by
// onnxruntime (onnxruntime-node, CPU) on a deterministic pseudo-random input that the C test
// (tests/unit/nn/test_reference.c) regenerates bit for bit, in the format of nn_fixtures.js.
//
// Layout: Clearway's runtime takes 4-D inputs NHWC (src/nn/onnx.c converts the model at load),
// so the fixture's input line gives the NHWC shape and the values are generated in NHWC order,
// pixel by pixel with interleaved channels, as the C test writes them into its input buffer.
// Here they are transposed to NCHW for onnxruntime. Outputs of rank 2 are the same either way.
//
// Usage: node tools/reference/onnx_fixtures.js [DEPS_DIR]   (default: the checkout's .deps)
// Set up first: (cd tools/reference && npm ci --ignore-scripts) and tools/setup/setup.sh.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const top = path.resolve(__dirname, '..', '..');
const deps = process.argv[2] || process.env.CLEARWAY_DEPS || path.join(top, '.deps');
const models = path.join(deps, 'npm', 'faceplugin', 'model');
const outDir = path.join(top, 'tests', 'fixtures', 'nn');

// NHWC input shape, PRNG seed and normalisation (fr_feature: RGB (v - 127) / 128).
const jobs = [
  { model: 'fr_feature.onnx', shape: [1, 112, 112, 3], seed: 6, mean: 127, scale: 0.0078125 },
];

// xorshift32, as nn_fixtures.js and the C test. Pixel = top 24 bits mod 256.
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

function nhwcToNchw(x, [n, h, w, c]) {
  const y = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h * w; i++) {
      for (let k = 0; k < c; k++) y[(b * c + k) * h * w + i] = x[(b * h * w + i) * c + k];
    }
  }
  return y;
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  for (const job of jobs) {
    const file = path.join(models, job.model);
    if (!fs.existsSync(file)) throw new Error(`${file} missing: run tools/setup/setup.sh`);
    const sha = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    // One thread, onnxruntime's default graph optimisations.
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
    const [n, h, w, c] = job.shape;
    const x = makeInput(n * h * w * c, job.seed, job.mean, job.scale);
    const nchw = new ort.Tensor('float32', nhwcToNchw(x, job.shape), [n, c, h, w]);
    const results = await session.run({ [session.inputNames[0]]: nchw });
    const version = require('onnxruntime-node/package.json').version;
    const lines = [
      `# ${job.model}: outputs of onnxruntime ${version} (onnxruntime-node, CPU)`,
      '# made by tools/reference/onnx_fixtures.js; do not edit. The input is NHWC (the',
      "# runtime's layout), generated in that order and transposed to NCHW for onnxruntime",
      `model ${job.model} ${sha}`,
      `input ${job.shape.join(' ')} seed ${job.seed} mean ${job.mean} scale ${job.scale}`,
    ];
    session.outputNames.forEach((name, i) => {
      const o = results[name];
      if (o.dims.length === 4) throw new Error(`${name}: 4-D outputs would need an NHWC transpose`);
      lines.push(`output ${i} ${o.dims.join(' ')}`);
      const data = o.data;
      const stride = data.length > 4096 ? Math.ceil(data.length / 2048) | 1 : 1;
      const picked = [];
      for (let j = 0; j < data.length; j += stride) picked.push(data[j]);
      lines.push(`values ${picked.length} stride ${stride}`);
      for (let j = 0; j < picked.length; j += 8) {
        lines.push(picked.slice(j, j + 8).map((v) => v.toPrecision(9)).join(' '));
      }
    });
    const dest = path.join(outDir, job.model.replace(/\.onnx$/, '.txt'));
    fs.writeFileSync(dest, `${lines.join('\n')}\n`);
    const shapes = session.outputNames.map((k) => results[k].dims.join('x'));
    console.log(`wrote ${path.relative(top, dest)}: ${shapes.join(', ')}`);
  }
}

main().catch((e) => { console.error(`onnx_fixtures: ${e.message}`); process.exit(1); });
