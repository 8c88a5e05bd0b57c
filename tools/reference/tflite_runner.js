// SPDX-License-Identifier: Apache-2.0
// Loads the TensorFlow Lite interpreter that @tensorflow/tfjs-tflite ships as WebAssembly
// (the plain, non-SIMD, single-threaded build) straight into Node, without a browser, and runs
// a .tflite model on float32 inputs. This is the reference Clearway's C runtime is checked
// against.
//
// The WASM API has no ResizeInputTensor, so a model is run at another input shape (MTCNN's
// pyramid levels, a batch of crops) by rewriting the input tensors' shape vectors in a copy of
// the flatbuffer; the interpreter propagates the new shapes through the graph when it
// allocates its tensors.
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

// Minimal flatbuffer access, enough to reach Model.subgraphs[0].tensors[inputs[i]].shape
// (field numbers from TFLite's schema.fbs: Model.subgraphs = 2; SubGraph.tensors = 0,
// SubGraph.inputs = 1; Tensor.shape = 0, Tensor.shape_signature = 7).
function fbField(buf, table, field) {
  const vtable = table - buf.readInt32LE(table);
  const vsize = buf.readUInt16LE(vtable);
  const at = 4 + 2 * field;
  if (at + 2 > vsize) return 0;
  const off = buf.readUInt16LE(vtable + at);
  return off === 0 ? 0 : table + off;
}

function fbVector(buf, table, field) { // -> {pos of first element, length} or null
  const f = fbField(buf, table, field);
  if (f === 0) return null;
  const vec = f + buf.readUInt32LE(f);
  return { pos: vec + 4, len: buf.readUInt32LE(vec) };
}

function fbTableAt(buf, vec, i) {
  const p = vec.pos + 4 * i;
  return p + buf.readUInt32LE(p);
}

// A copy of the model with input i's shape set to shapes[i] (null: leave it). The rank must
// stay the same: the shape vector is rewritten in place.
function patchInputShapes(bytes, shapes) {
  const buf = Buffer.from(bytes);
  const model = buf.readUInt32LE(0);
  const subgraph = fbTableAt(buf, fbVector(buf, model, 2), 0);
  const tensors = fbVector(buf, subgraph, 0);
  const inputs = fbVector(buf, subgraph, 1);
  shapes.forEach((shape, i) => {
    if (!shape) return;
    if (i >= inputs.len) throw new Error(`no input ${i}`);
    const tensor = fbTableAt(buf, tensors, buf.readInt32LE(inputs.pos + 4 * i));
    for (const field of [0, 7]) {
      const v = fbVector(buf, tensor, field);
      if (v === null) continue;
      if (v.len !== shape.length) {
        throw new Error(`input ${i} has rank ${v.len}, cannot give it shape ${shape}`);
      }
      shape.forEach((d, k) => buf.writeInt32LE(d, v.pos + 4 * k));
    }
  });
  return buf;
}

// Returns a runner whose run(inputs) takes Float32Arrays (in the model's input order) and
// returns [{name, shape, data}] for every output. options.inputShapes: run the model at these
// input shapes instead of the stored ones. dispose() frees the interpreter.
async function createRunner(modelPath, options = {}) {
  const M = await loadModule();
  let bytes = fs.readFileSync(modelPath);
  if (options.inputShapes) bytes = patchInputShapes(bytes, options.inputShapes);
  // The interpreter keeps pointing into the model bytes: they live as long as the runner.
  const ptr = M._malloc(bytes.length);
  M.HEAPU8.set(bytes, ptr);
  const status = M.TFLiteWebModelRunner.CreateFromBufferAndOptions(ptr, bytes.length,
    { numThreads: 1, enableProfiling: false, maxProfilingBufferEntries: 0 });
  if (!status.ok()) {
    M._free(ptr);
    throw new Error(`${modelPath}: ${status.errorMessage()}`);
  }
  const runner = status.value();
  return {
    dispose() {
      runner.delete();
      M._free(ptr);
    },
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
