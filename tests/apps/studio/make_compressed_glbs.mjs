// Writes the two compressed GLBs the viewer tests load (committed in data/, with SHA256SUMS):
//   data/box-draco.glb    a blue 2 x 1 x 0.5 box, KHR_draco_mesh_compression (required)
//   data/box-meshopt.glb  a green 1 x 2 x 0.5 box, EXT_meshopt_compression (required)
// Not run by the tests (nothing is built at test time); to make them again:
//   npm i --no-save draco3dgltf@1.5.7 meshoptimizer@1.3.0 && node tests/apps/studio/make_compressed_glbs.mjs
// (draco3dgltf is Google's glTF-branch Draco encoder, meshoptimizer has the glTF buffer encoder;
// three ships only the decoders.)

import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(process.cwd(), 'package.json'));
const draco3d = require('draco3dgltf');
const { MeshoptEncoder } = require('meshoptimizer');
const here = dirname(fileURLToPath(import.meta.url));

/** A box of size sx, sy, sz centred at the origin: 24 vertices (flat normals), 36 indices. */
function box(sx, sy, sz) {
  const faces = [
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[-1, 0, 0], [0, 1, 0], [0, 0, -1]],
    [[0, 1, 0], [0, 0, 1], [1, 0, 0]], [[0, -1, 0], [0, 0, -1], [1, 0, 0]],
    [[0, 0, 1], [1, 0, 0], [0, 1, 0]], [[0, 0, -1], [-1, 0, 0], [0, 1, 0]],
  ];
  const pos = []; const nor = []; const idx = [];
  faces.forEach(([n, u, v], f) => {
    for (const [a, b] of [[-1, -1], [1, -1], [1, 1], [-1, 1]]) {
      const p = [0, 1, 2].map((k) => (n[k] + a * u[k] + b * v[k]) * [sx, sy, sz][k] / 2);
      pos.push(...p); nor.push(...n);
    }
    const o = f * 4;
    idx.push(o, o + 1, o + 2, o, o + 2, o + 3);
  });
  return { positions: new Float32Array(pos), normals: new Float32Array(nor), indices: new Uint16Array(idx) };
}

function pad4(buf, fill = 0) {
  const n = (4 - (buf.length % 4)) % 4;
  return n ? Buffer.concat([buf, Buffer.alloc(n, fill)]) : buf;
}

function glb(json, bin) {
  const j = pad4(Buffer.from(JSON.stringify(json)), 0x20);
  const b = pad4(Buffer.from(bin));
  const header = Buffer.alloc(12);
  header.writeUInt32LE(0x46546c67, 0); header.writeUInt32LE(2, 4);
  header.writeUInt32LE(12 + 8 + j.length + 8 + b.length, 8);
  const ch = (len, type) => { const c = Buffer.alloc(8); c.writeUInt32LE(len, 0); c.writeUInt32LE(type, 4); return c; };
  return Buffer.concat([header, ch(j.length, 0x4e4f534a), j, ch(b.length, 0x004e4942), b]);
}

function minmax(p) {
  const min = [Infinity, Infinity, Infinity]; const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < p.length; i++) { min[i % 3] = Math.min(min[i % 3], p[i]); max[i % 3] = Math.max(max[i % 3], p[i]); }
  return { min, max };
}

function material(rgb) {
  return [{ pbrMetallicRoughness: { baseColorFactor: [...rgb, 1], metallicFactor: 0, roughnessFactor: 0.6 } }];
}

async function dracoBox() {
  const m = await draco3d.createEncoderModule({});
  const { positions, normals, indices } = box(2, 1, 0.5);
  const builder = new m.MeshBuilder(); const mesh = new m.Mesh(); const encoder = new m.Encoder();
  builder.AddFacesToMesh(mesh, indices.length / 3, new Uint32Array(indices));
  const posId = builder.AddFloatAttributeToMesh(mesh, m.POSITION, 24, 3, positions);
  const norId = builder.AddFloatAttributeToMesh(mesh, m.NORMAL, 24, 3, normals);
  encoder.SetAttributeQuantization(m.POSITION, 14);
  encoder.SetAttributeQuantization(m.NORMAL, 10);
  encoder.SetEncodingMethod(m.MESH_SEQUENTIAL_ENCODING);
  const out = new m.DracoInt8Array();
  const len = encoder.EncodeMeshToDracoBuffer(mesh, out);
  if (!len) throw new Error('Draco encoding failed');
  const bytes = new Uint8Array(len);
  for (let i = 0; i < len; i++) bytes[i] = out.GetValue(i);
  for (const o of [out, mesh, builder, encoder]) m.destroy(o);
  const { min, max } = minmax(positions);
  const json = {
    asset: { version: '2.0', generator: 'Boda tests make_compressed_glbs.mjs' },
    extensionsUsed: ['KHR_draco_mesh_compression'], extensionsRequired: ['KHR_draco_mesh_compression'],
    scene: 0, scenes: [{ nodes: [0] }], nodes: [{ mesh: 0, name: 'draco-box' }],
    meshes: [{ primitives: [{
      attributes: { POSITION: 0, NORMAL: 1 }, indices: 2, material: 0,
      extensions: { KHR_draco_mesh_compression: { bufferView: 0, attributes: { POSITION: posId, NORMAL: norId } } },
    }] }],
    accessors: [
      { componentType: 5126, count: 24, type: 'VEC3', min, max },
      { componentType: 5126, count: 24, type: 'VEC3' },
      { componentType: 5123, count: 36, type: 'SCALAR' },
    ],
    bufferViews: [{ buffer: 0, byteOffset: 0, byteLength: len }],
    buffers: [{ byteLength: pad4(Buffer.from(bytes)).length }],
    materials: material([0.05, 0.15, 0.9]),
  };
  return glb(json, bytes);
}

async function meshoptBox() {
  await MeshoptEncoder.ready;
  const { positions, normals, indices } = box(1, 2, 0.5);
  const parts = [
    { data: new Uint8Array(positions.buffer), count: 24, stride: 12, mode: 'ATTRIBUTES', target: 34962 },
    { data: new Uint8Array(normals.buffer), count: 24, stride: 12, mode: 'ATTRIBUTES', target: 34962 },
    { data: new Uint8Array(indices.buffer), count: 36, stride: 2, mode: 'TRIANGLES', target: 34963 },
  ];
  const chunks = []; const views = []; let offset = 0; let fallback = 0;
  for (const p of parts) {
    const raw = Buffer.from(MeshoptEncoder.encodeGltfBuffer(p.data, p.count, p.stride, p.mode, 0));
    const enc = pad4(raw); // the next view starts 4-aligned; byteLength is exact (the index codec checks it)
    const view = { buffer: 1, byteOffset: fallback, byteLength: p.count * p.stride, target: p.target,
      extensions: { EXT_meshopt_compression: { buffer: 0, byteOffset: offset, byteLength: raw.length,
        byteStride: p.stride, mode: p.mode, count: p.count } } };
    if (p.mode === 'ATTRIBUTES') view.byteStride = p.stride;
    views.push(view);
    chunks.push(enc); offset += enc.length; fallback += Math.ceil((p.count * p.stride) / 4) * 4;
  }
  const bin = Buffer.concat(chunks);
  const { min, max } = minmax(positions);
  const json = {
    asset: { version: '2.0', generator: 'Boda tests make_compressed_glbs.mjs' },
    extensionsUsed: ['EXT_meshopt_compression'], extensionsRequired: ['EXT_meshopt_compression'],
    scene: 0, scenes: [{ nodes: [0] }], nodes: [{ mesh: 0, name: 'meshopt-box' }],
    meshes: [{ primitives: [{ attributes: { POSITION: 0, NORMAL: 1 }, indices: 2, material: 0 }] }],
    accessors: [
      { bufferView: 0, componentType: 5126, count: 24, type: 'VEC3', min, max },
      { bufferView: 1, componentType: 5126, count: 24, type: 'VEC3' },
      { bufferView: 2, componentType: 5123, count: 36, type: 'SCALAR' },
    ],
    bufferViews: views,
    buffers: [{ byteLength: bin.length }, { byteLength: fallback, extensions: { EXT_meshopt_compression: { fallback: true } } }],
    materials: material([0.1, 0.8, 0.1]),
  };
  return glb(json, bin);
}

writeFileSync(join(here, 'data', 'box-draco.glb'), await dracoBox());
writeFileSync(join(here, 'data', 'box-meshopt.glb'), await meshoptBox());
console.log('wrote data/box-draco.glb, data/box-meshopt.glb');
