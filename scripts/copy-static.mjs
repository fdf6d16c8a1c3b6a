// Copies the few browser files the web UI needs from node_modules into
// boda/web/static/vendor/, so that Boda serves them itself (never a CDN).
//
//   npm ci && npm run build:static
//
// The folder is generated (git-ignored) and rebuilt from scratch on each run.
// Layout, for an import map such as
//   { "imports": { "three": "/static/vendor/three/three.module.min.js",
//                  "three/addons/": "/static/vendor/three/addons/" } }
//
//   vendor/htmx/htmx.min.js, LICENSE
//   vendor/pretendard/pretendardvariable.css, PretendardVariable.woff2, LICENSE.txt
//   vendor/three/three.module.min.js        (three + three.core, one minified ES module)
//   vendor/three/addons/loaders/GLTFLoader.js, DRACOLoader.js, controls/OrbitControls.js,
//                       environments/RoomEnvironment.js, libs/meshopt_decoder.module.js,
//                       utils/*.js           (minified; what they import, found here)
//   vendor/three/LICENSE
//   vendor/three/draco/draco_decoder.js, draco_decoder.wasm, draco_wasm_wrapper.js, README.md
//                      draco_worker.js      (three's Draco worker + the JS decoder, one static file)
//   vendor/studio-viewer/viewer.js          (the 3D Studio viewer: boda/apps/studio/viewer/viewer.js
//                                            bundled with three and its addons into one ES module)
//   vendor/studio-viewer/meshopt_decoder-*.js (split off: loaded only for meshopt-compressed models)
//
// three stopped shipping build/*.min.js in 0.186, so esbuild (a devDependency)
// bundles and minifies build/three.module.js here.

import { Script } from 'node:vm';
import {
  readFileSync, writeFileSync, mkdirSync, rmSync, copyFileSync, statSync, readdirSync, realpathSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync, transformSync } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nm = realpathSync(join(root, 'node_modules')); // real path: esbuild reports inputs by it
const out = join(root, 'boda', 'web', 'static', 'vendor');

function pkgVersion(name) {
  return JSON.parse(readFileSync(join(nm, name, 'package.json'), 'utf8')).version;
}

function copy(src, dest) {
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(src, dest);
}

function write(dest, text) {
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, text);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// --- htmx -------------------------------------------------------------------------
const htmx = join(nm, 'htmx.org');
copy(join(htmx, 'dist', 'htmx.min.js'), join(out, 'htmx', 'htmx.min.js'));
copy(join(htmx, 'LICENSE'), join(out, 'htmx', 'LICENSE'));

// --- Swagger UI for /docs (FastAPI's default page would load it from a CDN) -------------
const swagger = join(nm, 'swagger-ui-dist');
for (const name of ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png', 'LICENSE']) {
  copy(join(swagger, name), join(out, 'swagger-ui', name));
}

// --- Pretendard: the single variable font --------------------------------------------
// PretendardVariable.woff2 (about 2.0 MB, weights 45-920) holds every Hangul syllable
// (U+AC00-D7A3, all 11,172) and jamo, plus Latin; the dynamic-subset set is 3.1 MB in
// 92 files. One file is smaller on disk and loads once, without unicode-range juggling.
const pretendard = join(nm, 'pretendard', 'dist');
copy(
  join(pretendard, 'web', 'variable', 'woff2', 'PretendardVariable.woff2'),
  join(out, 'pretendard', 'PretendardVariable.woff2'),
);
copy(join(pretendard, 'LICENSE.txt'), join(out, 'pretendard', 'LICENSE.txt'));
{
  const css = readFileSync(join(pretendard, 'web', 'variable', 'pretendardvariable.css'), 'utf8');
  const from = "url('./woff2/PretendardVariable.woff2') format('woff2-variations')";
  if (!css.includes(from)) {
    throw new Error(`pretendardvariable.css changed: no ${from}`);
  }
  // Both format hints: older engines know 'woff2-variations', newer ones 'woff2'.
  const fixed = css.replace(
    from,
    "url('./PretendardVariable.woff2') format('woff2-variations'),\n" +
      "\t     url('./PretendardVariable.woff2') format('woff2')",
  );
  write(join(out, 'pretendard', 'pretendardvariable.css'), fixed);
}

// --- three ------------------------------------------------------------------------
const three = join(nm, 'three');
const threeVersion = pkgVersion('three');
const banner = `/* three.js r${threeVersion.split('.')[1]} (${threeVersion}), MIT License, https://threejs.org/ */`;
buildSync({
  entryPoints: [join(three, 'build', 'three.module.js')],
  outfile: join(out, 'three', 'three.module.min.js'),
  bundle: true,
  format: 'esm',
  minify: true,
  target: 'es2020',
  legalComments: 'none',
  banner: { js: banner },
  logLevel: 'error',
});
copy(join(three, 'LICENSE'), join(out, 'three', 'LICENSE'));

// Addons: the entry files and every module they import (esbuild's metafile gives the
// import graph; comments with example imports are not mistaken for imports). Each is
// minified on its own, keeping its path; imports of 'three' stay as they are (the
// page's import map resolves them).
const jsm = join(three, 'examples', 'jsm');
const entries = [
  'loaders/GLTFLoader.js',
  'loaders/DRACOLoader.js',
  'controls/OrbitControls.js',
  'environments/RoomEnvironment.js',
  'libs/meshopt_decoder.module.js',
];
const { metafile } = buildSync({
  entryPoints: entries.map((e) => join(jsm, e)),
  bundle: true,
  external: ['three'],
  format: 'esm',
  write: false,
  metafile: true,
  outdir: join(out, 'unused'),
  absWorkingDir: root,
  logLevel: 'error',
});
for (const input of Object.keys(metafile.inputs)) {
  const rel = relative(jsm, resolve(root, input));
  if (rel.startsWith('..')) {
    throw new Error(`three addons import ${input}, outside examples/jsm: not handled`);
  }
  const { code } = transformSync(readFileSync(join(jsm, rel), 'utf8'), {
    loader: 'js',
    format: 'esm',
    minify: true,
    target: 'es2020',
    legalComments: 'none',
    banner,
  });
  write(join(out, 'three', 'addons', rel), code);
}

// --- Draco decoders (three's copies) and a static worker ---------------------------------
// DRACOLoader builds its Web Worker from a blob: URL, which Boda's CSP refuses (worker-src
// falls back to script-src 'self'). So the worker is built here, once, as a static file:
// the JS (asm.js) decoder plus the body of three's own DRACOWorker function, exactly what
// DRACOLoader would have put in the blob. The JS decoder needs no WebAssembly, so it runs
// under Boda's CSP as it is (no 'wasm-unsafe-eval'); the wasm files are copied too for
// anyone who relaxes the CSP.
const dracoLibs = join(jsm, 'libs', 'draco');
for (const name of ['draco_decoder.js', 'draco_decoder.wasm', 'draco_wasm_wrapper.js', 'README.md']) {
  copy(join(dracoLibs, name), join(out, 'three', 'draco', name));
}
{
  const src = readFileSync(join(jsm, 'loaders', 'DRACOLoader.js'), 'utf8');
  const head = 'function DRACOWorker() {';
  const start = src.indexOf(head);
  if (start < 0) throw new Error('DRACOLoader.js changed: no DRACOWorker function');
  let depth = 0;
  let end = -1;
  for (let i = start + head.length - 1; i < src.length; i++) {
    if (src[i] === '{') depth++;
    else if (src[i] === '}' && --depth === 0) { end = i; break; }
  }
  if (end < 0) throw new Error('DRACOLoader.js changed: DRACOWorker does not close');
  const body = [
    `/* Draco decoder (Apache-2.0, google/draco) and three.js r${threeVersion.split('.')[1]} DRACOWorker (MIT) */`,
    readFileSync(join(dracoLibs, 'draco_decoder.js'), 'utf8'),
    '',
    '/* worker */',
    src.substring(start + head.length, end),
  ].join('\n');
  new Script(body, { filename: 'draco_worker.js' }); // parses, or the build fails here
  write(join(out, 'three', 'draco', 'draco_worker.js'), body);
}

// --- the 3D Studio viewer -------------------------------------------------------------
// One ES module (three, GLTFLoader, DRACOLoader, OrbitControls, RoomEnvironment bundled),
// because a page would otherwise need an import map, and import maps are inline scripts,
// which Boda's CSP refuses. The meshopt decoder instantiates WebAssembly as soon as its
// module runs, so it is split into its own chunk, imported only for meshopt models.
buildSync({
  entryPoints: [join(root, 'boda', 'apps', 'studio', 'viewer', 'viewer.js')],
  outdir: join(out, 'studio-viewer'),
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: true,
  target: 'es2020',
  legalComments: 'none',
  banner: { js: `${banner}\n/* Boda 3D Studio viewer, MIT License; meshoptimizer decoder MIT License */` },
  absWorkingDir: root,
  logLevel: 'error',
});

// --- report -------------------------------------------------------------------------
function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}
const files = walk(out).sort();
let total = 0;
for (const f of files) {
  const size = statSync(f).size;
  total += size;
  console.log(`${(size / 1024).toFixed(1).padStart(8)} KiB  ${relative(root, f)}`);
}
console.log(
  `copy-static: ${files.length} files, ${(total / 1024).toFixed(0)} KiB in ${relative(root, out)}/ ` +
    `(htmx.org ${pkgVersion('htmx.org')}, pretendard ${pkgVersion('pretendard')}, three ${threeVersion})`,
);
