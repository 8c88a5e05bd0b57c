// SPDX-License-Identifier: Apache-2.0
// Loads the TensorFlow Lite interpreter that @tensorflow/tfjs-tflite ships as WebAssembly
// (the plain, non-SIMD, single-threaded build) straight into Node, without a browser, and runs
// a .tflite model on float32 inputs. This is the reference Clearway's C runtime is checked
// against.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-tflite/package.json')), 'wasm');
let modulePromise = null;

function loadModule() {
  if (!modulePromise) {
    const src = fs.readFileSync(path.join(wasmDir, 'tflite_web_api_cc.js'), 'utf8');
    const factory = vm.runInThisContext(`${src}\n;tflite_web_api_ModuleFactory`,
      { filename: 'tflite_web_api_cc.js' });
    const wasmBinary = fs.readFileSync(path.join(wasmDir, 'tflite_web_api_cc.wasm'));
    modulePromise = factory({ wasmBinary, print: () => {}, printErr: () => {} });
  }
  return modulePromise;
}

function vectorToArray(v) {
  const out = [];
  for (let i = 0; i < v.size(); i++) out.push(v.get(i));
  v.delete();
  return out;
}

// Returns a runner whose run(inputs) takes Float32Arrays (in the model's input order) and
// returns [{name, shape, data}] for every output.
async function createRunner(modelPath) {
  const M = await loadModule();
  const bytes = fs.readFileSync(modelPath);
  const ptr = M._malloc(bytes.length);
  M.HEAPU8.set(bytes, ptr);
  const status = M.TFLiteWebModelRunner.CreateFromBufferAndOptions(ptr, bytes.length,
    { numThreads: 1, enableProfiling: false, maxProfilingBufferEntries: 0 });
  if (!status.ok()) throw new Error(`${modelPath}: ${status.errorMessage()}`);
  const runner = status.value();
  return {
    inputs: () => vectorToArray(runner.GetInputs()).map((t) => ({
      name: t.name, shape: t.shape.split(',').map(Number),
    })),
    run(inputs) {
      const ins = vectorToArray(runner.GetInputs());
      if (ins.length !== inputs.length) throw new Error('wrong number of inputs');
      ins.forEach((t, i) => {
        const dst = t.data();
        if (dst.length !== inputs[i].length) {
          throw new Error(`input ${i}: model wants ${dst.length} values, got ${inputs[i].length}`);
        }
        dst.set(inputs[i]);
      });
      if (!runner.Infer()) throw new Error('inference failed');
      return vectorToArray(runner.GetOutputs()).map((o) => ({
        name: o.name, shape: o.shape.split(',').map(Number), data: Float32Array.from(o.data()),
      }));
    },
  };
}

module.exports = { createRunner };
