// Boda 3D Studio viewer: a GLB in a <div>, orbit/zoom/fit, lights and environment,
// wireframe and normals, auto-rotate, dimensions, resize, and every GPU resource freed
// on unmount. Bundled by scripts/copy-static.mjs into /static/vendor/studio-viewer/viewer.js
// (one ES module: Boda's CSP refuses the inline import map a bare 'three' would need).
//
//   <link rel="stylesheet" href="/static/studio/viewer.css">
//   <div class="studio-viewer" data-src="/api/v1/studio/models/ID/download?format=glb"
//        data-draco="/static/vendor/three/draco/" data-label-fit="Fit" ...></div>
//   <script type="module" src="/static/vendor/studio-viewer/viewer.js"></script>
//
// Every .studio-viewer on the page is mounted when the module runs, and any added later
// can be mounted with window.BodaViewer.mount(el). The element receives
// 'studio-viewer:ready' (detail: timings, triangles, size) after the model's first frame,
// or 'studio-viewer:error' (detail: message).
//
// No inline style anywhere (CSP style-src 'self'): the canvas is sized by viewer.css and
// the renderer is told the size without touching canvas.style.

import {
  ACESFilmicToneMapping,
  Box3,
  DirectionalLight,
  HemisphereLight,
  MeshNormalMaterial,
  PerspectiveCamera,
  PMREMGenerator,
  Scene,
  SRGBColorSpace,
  Sphere,
  Texture,
  TextureLoader,
  Vector3,
  WebGLRenderer,
} from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { RoomEnvironment } from 'three/addons/environments/RoomEnvironment.js';
import { DRACOLoader } from 'three/addons/loaders/DRACOLoader.js';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';

const DEFAULT_DRACO = '/static/vendor/three/draco/';
const LABELS = {
  fit: 'Fit to view',
  wireframe: 'Wireframe',
  normals: 'Normals',
  rotate: 'Auto-rotate',
  size: 'Size',
  loading: 'Loading model…',
  error: 'This model could not be shown',
  nowebgl: 'This browser cannot show 3D (no WebGL)',
  canvas: '3D model: drag to orbit, scroll to zoom',
};

/** DRACOLoader whose worker is the static draco_worker.js (three's DRACOWorker + Draco's JS decoder,
 * built by copy-static.mjs), not a blob: URL, which CSP script-src 'self' refuses. The JS decoder
 * needs no WebAssembly, so Draco models load under Boda's CSP as it is. */
class StaticDracoLoader extends DRACOLoader {
  constructor(decoderFolder) {
    super();
    this.staticWorkerURL = new URL('draco_worker.js', new URL(decoderFolder, document.baseURI)).href;
  }

  _initDecoder() {
    if (!this.decoderPending) {
      this.workerSourceURL = this.staticWorkerURL;
      this.decoderPending = Promise.resolve();
    }
    return this.decoderPending;
  }

  dispose() {
    this.workerSourceURL = ''; // not a blob: URL: nothing to revoke
    return super.dispose();
  }
}

/** The meshopt decoder instantiates WebAssembly when its module runs ('wasm-unsafe-eval' in
 * the page's CSP), so it is imported only when a model actually uses EXT_meshopt_compression. */
const lazyMeshopt = {
  supported: typeof WebAssembly === 'object',
  _decoder: null,
  _load() {
    if (!this._loading) {
      this._loading = import('three/addons/libs/meshopt_decoder.module.js').then(async ({ MeshoptDecoder }) => {
        await MeshoptDecoder.ready;
        this._decoder = MeshoptDecoder;
        return MeshoptDecoder;
      });
    }
    return this._loading;
  },
  get ready() {
    return this._load();
  },
  decodeGltfBuffer(...args) {
    return this._decoder.decodeGltfBuffer(...args);
  },
  decodeGltfBufferAsync(count, size, source, mode, filter) {
    return this._load().then((decoder) => decoder.decodeGltfBufferAsync(count, size, source, mode, filter));
  },
};

/** GLTFLoader reads a GLB's embedded images through blob: URLs. Its ImageBitmapLoader fetch()es
 * them, which CSP connect-src 'self' refuses; an <img> is governed by img-src, which allows blob:.
 * So this plugin gives the parser an image-element TextureLoader (three's own choice on Safari). */
function imageElementTextures(parser) {
  parser.textureLoader = new TextureLoader(parser.options.manager);
  parser.textureLoader.setCrossOrigin(parser.options.crossOrigin);
  parser.textureLoader.setRequestHeader(parser.options.requestHeader);
  return { name: 'boda_image_element_textures' };
}

const viewers = new Map();

function isSoftwareRenderer(renderer) {
  const gl = renderer.getContext();
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  return /swiftshader|llvmpipe|softpipe|software|basic render driver/i.test(String(name));
}

function label(el, key) {
  const attr = el.dataset[`label${key[0].toUpperCase()}${key.slice(1)}`];
  return attr || LABELS[key];
}

function make(tag, className, parent, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function button(bar, action, text, toggle) {
  const b = make('button', 'studio-viewer-button', bar, text);
  b.type = 'button';
  b.dataset.action = action;
  if (toggle) b.setAttribute('aria-pressed', 'false');
  return b;
}

/** Every texture a material holds (maps of any kind), found by value, not by name. */
function texturesOf(material) {
  const found = [];
  for (const value of Object.values(material)) {
    if (value instanceof Texture) found.push(value);
  }
  if (material.uniforms) {
    for (const u of Object.values(material.uniforms)) {
      if (u && u.value instanceof Texture) found.push(u.value);
    }
  }
  return found;
}

function formatLength(v) {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1000 || abs < 0.01) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

/** Counts triangles of every mesh (indexed or not). */
function triangleCount(root) {
  let n = 0;
  root.traverse((o) => {
    if (o.isMesh && o.geometry) {
      const g = o.geometry;
      n += Math.floor((g.index ? g.index.count : g.attributes.position ? g.attributes.position.count : 0) / 3);
    }
  });
  return n;
}

/**
 * Mounts a viewer in el for the GLB at url (default: el.dataset.src).
 * Returns the viewer object (also kept for unmount); mounting twice unmounts first.
 */
function mount(el, url) {
  if (viewers.has(el)) unmount(el);
  const src = url || el.dataset.src;
  const t0 = performance.now();
  el.classList.add('studio-viewer', 'is-loading');
  el.classList.remove('is-ready', 'is-error');

  const stage = make('div', 'studio-viewer-stage', el);
  const canvas = make('canvas', 'studio-viewer-canvas', stage);
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label(el, 'canvas'));
  const status = make('p', 'studio-viewer-status', el, label(el, 'loading'));
  status.setAttribute('role', 'status');
  const bar = make('div', 'studio-viewer-toolbar', el);
  const fitBtn = button(bar, 'fit', label(el, 'fit'), false);
  const wireBtn = button(bar, 'wireframe', label(el, 'wireframe'), true);
  const normBtn = button(bar, 'normals', label(el, 'normals'), true);
  const rotBtn = button(bar, 'rotate', label(el, 'rotate'), true);
  const dims = make('p', 'studio-viewer-dims', bar);
  make('span', 'studio-viewer-dims-label', dims, `${label(el, 'size')} `);
  const dimsValue = make('output', 'studio-viewer-dims-value', dims, '–');
  for (const b of [fitBtn, wireBtn, normBtn, rotBtn]) b.disabled = true;

  const v = {
    el,
    src,
    disposed: false,
    renderer: null,
    timings: { start: t0 },
    nodes: [stage, status, bar],
    listeners: [],
  };
  viewers.set(el, v);

  const fail = (message) => {
    if (v.disposed) return;
    el.classList.remove('is-loading');
    el.classList.add('is-error');
    status.textContent = label(el, message === 'nowebgl' ? 'nowebgl' : 'error');
    v.error = String(message);
    el.dispatchEvent(new CustomEvent('studio-viewer:error', { bubbles: true, detail: { message: v.error } }));
  };

  let renderer;
  try {
    renderer = new WebGLRenderer({ canvas, antialias: true, alpha: true, powerPreference: 'high-performance' });
  } catch (err) {
    fail('nowebgl');
    return v;
  }
  v.renderer = renderer;
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  renderer.outputColorSpace = SRGBColorSpace;
  renderer.toneMapping = ACESFilmicToneMapping;
  renderer.setClearColor(0x000000, 0);

  const scene = new Scene();
  const camera = new PerspectiveCamera(45, 1, 0.01, 1000);
  camera.position.set(2, 1.5, 3);
  v.scene = scene;
  v.camera = camera;

  // Lights: image-based light from three's RoomEnvironment, prefiltered by PMREM, plus a key
  // light for shape and a hemisphere fill. PMREM's GGX filtering takes ~0.01 s on a GPU but
  // 10-30 s on a software renderer (SwiftShader, llvmpipe), freezing the page; there, by default
  // ('auto'), the viewer lights with the key and fill lights alone. data-environment="room"
  // forces the environment, "none" turns it off.
  const mode = el.dataset.environment || 'auto';
  v.software = isSoftwareRenderer(renderer);
  v.environment = mode === 'room' || (mode === 'auto' && !v.software) ? 'room' : 'none';
  if (v.environment === 'room') {
    const pmrem = new PMREMGenerator(renderer);
    const room = new RoomEnvironment();
    v.envTarget = pmrem.fromScene(room, 0.04);
    room.dispose();
    pmrem.dispose();
    scene.environment = v.envTarget.texture;
  }
  v.timings.environment = performance.now();
  const key = new DirectionalLight(0xffffff, v.environment === 'room' ? 1.5 : 2.5);
  key.position.set(3, 5, 4);
  scene.add(key, new HemisphereLight(0xffffff, 0x555555, v.environment === 'room' ? 0.4 : 1.6));

  const controls = new OrbitControls(camera, canvas);
  controls.enableDamping = true;
  controls.autoRotateSpeed = 2;
  v.controls = controls;

  // Render on demand: a frame when something moved, continuously only while damping settles
  // or auto-rotate runs (an idle viewer costs nothing).
  let frame = 0;
  let firstFrame = null;
  const draw = () => {
    frame = 0;
    if (v.disposed) return;
    const moving = controls.update();
    renderer.render(scene, camera);
    if (firstFrame) {
      const done = firstFrame;
      firstFrame = null;
      done();
    }
    if (moving || controls.autoRotate) requestRender();
  };
  const requestRender = () => {
    if (!frame && !v.disposed) frame = requestAnimationFrame(draw);
  };
  v.requestRender = requestRender;
  v.cancelFrame = () => {
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
  };
  const on = (target, type, fn) => {
    target.addEventListener(type, fn);
    v.listeners.push([target, type, fn]);
  };
  on(controls, 'change', requestRender);

  const resize = () => {
    const w = Math.max(1, Math.floor(stage.clientWidth));
    const h = Math.max(1, Math.floor(stage.clientHeight));
    renderer.setSize(w, h, false); // false: CSS sizes the canvas, no style writes
    camera.aspect = w / h;
    camera.updateProjectionMatrix();
    requestRender();
  };
  v.resizeObserver = new ResizeObserver(resize);
  v.resizeObserver.observe(stage);
  resize();

  const fit = () => {
    if (!v.model) return;
    const sphere = v.bounds.isEmpty() ? new Sphere(new Vector3(), 1) : v.bounds.getBoundingSphere(new Sphere());
    const radius = sphere.radius > 0 ? sphere.radius : 1; // an empty scene or a single point
    const fov = (camera.fov * Math.PI) / 180;
    const fovH = 2 * Math.atan(Math.tan(fov / 2) * camera.aspect);
    const dist = (radius / Math.sin(Math.min(fov, fovH) / 2)) * 1.05;
    const dir = new Vector3(1, 0.7, 1.3).normalize();
    camera.position.copy(sphere.center).addScaledVector(dir, dist);
    camera.near = Math.max(radius / 1000, dist / 100);
    camera.far = dist + radius * 12;
    camera.updateProjectionMatrix();
    controls.target.copy(sphere.center);
    controls.minDistance = radius * 0.5; // zoom limits from the bounds
    controls.maxDistance = radius * 10;
    controls.update();
    requestRender();
  };
  v.fit = fit;

  const normalMaterial = new MeshNormalMaterial();
  v.normalMaterial = normalMaterial;
  v.originals = new Map();
  const setWireframe = (on) => {
    v.wireframe = on;
    wireBtn.setAttribute('aria-pressed', String(on));
    const all = [normalMaterial, ...allMaterials(v)];
    for (const m of all) {
      if ('wireframe' in m) {
        m.wireframe = on;
        m.needsUpdate = true;
      }
    }
    requestRender();
  };
  const setNormals = (on) => {
    v.normals = on;
    normBtn.setAttribute('aria-pressed', String(on));
    for (const [mesh, original] of v.originals) mesh.material = on ? normalMaterial : original;
    requestRender();
  };
  const setRotate = (on) => {
    controls.autoRotate = on;
    rotBtn.setAttribute('aria-pressed', String(on));
    requestRender();
  };
  v.setWireframe = setWireframe;
  v.setNormals = setNormals;
  v.setRotate = setRotate;
  on(fitBtn, 'click', fit);
  on(wireBtn, 'click', () => setWireframe(!v.wireframe));
  on(normBtn, 'click', () => setNormals(!v.normals));
  on(rotBtn, 'click', () => setRotate(!controls.autoRotate));

  const draco = new StaticDracoLoader(el.dataset.draco || DEFAULT_DRACO);
  v.draco = draco;
  const loader = new GLTFLoader();
  loader.setDRACOLoader(draco);
  loader.setMeshoptDecoder(lazyMeshopt);
  loader.register(imageElementTextures);

  if (!src) {
    fail('no data-src');
    return v;
  }
  loader.load(
    src,
    (gltf) => {
      v.timings.loaded = performance.now();
      if (v.disposed) {
        disposeObject(gltf.scene);
        return;
      }
      const model = gltf.scene;
      v.model = model;
      scene.add(model);
      model.updateMatrixWorld(true);
      model.traverse((o) => {
        if (!o.isMesh) return;
        v.originals.set(o, o.material);
        // Models without normals (common in scans and exports): three draws them flat through
        // screen-space derivatives, which give no normal on wireframe lines or in the normals view.
        if (o.geometry && !o.geometry.attributes.normal && o.geometry.attributes.position) {
          o.geometry.computeVertexNormals();
        }
      });
      v.bounds = new Box3().setFromObject(model);
      const size = v.bounds.isEmpty() ? new Vector3() : v.bounds.getSize(new Vector3());
      v.size = [size.x, size.y, size.z];
      v.triangles = triangleCount(model);
      dimsValue.textContent = v.size.map(formatLength).join(' × ');
      dimsValue.title = v.size.join(' × ');
      fit();
      for (const b of [fitBtn, wireBtn, normBtn, rotBtn]) b.disabled = false;
      firstFrame = () => {
        // The frame is drawn; dispatch once the browser has shown it (next animation frame).
        v.timings.firstRender = performance.now();
        requestAnimationFrame(() => {
          if (v.disposed) return;
          v.timings.ready = performance.now();
          el.classList.remove('is-loading');
          el.classList.add('is-ready');
          status.textContent = '';
          const t = v.timings;
          el.dispatchEvent(new CustomEvent('studio-viewer:ready', {
            bubbles: true,
            detail: {
              src,
              environment: v.environment,
              software: v.software,
              environmentMs: t.environment - t.start,
              loadMs: t.loaded - t.start,
              firstFrameMs: t.firstRender - t.start,
              readyMs: t.ready - t.start,
              triangles: v.triangles,
              size: v.size,
            },
          }));
        });
      };
      requestRender();
    },
    undefined,
    (err) => fail((err && err.message) || String(err)),
  );
  return v;
}

function allMaterials(v) {
  const found = new Set();
  for (const original of v.originals.values()) {
    for (const m of Array.isArray(original) ? original : [original]) if (m) found.add(m);
  }
  return found;
}

/** Disposes every geometry, material and texture under root; returns how many of each.
 * With a renderer, also the textures three attached to the materials' uniforms (the DFG lookup
 * table of PBR materials is one shared DataTexture: disposing it frees this context's copy; any
 * other viewer uploads it again on its next frame). */
function disposeObject(root, extraMaterials = [], renderer = null) {
  const geometries = new Set();
  const materials = new Set(extraMaterials);
  root.traverse((o) => {
    if (o.geometry) geometries.add(o.geometry);
    if (o.material) for (const m of Array.isArray(o.material) ? o.material : [o.material]) materials.add(m);
  });
  const textures = new Set();
  for (const m of materials) {
    for (const t of texturesOf(m)) textures.add(t);
    const uniforms = renderer && renderer.properties.get(m).uniforms;
    if (uniforms) for (const u of Object.values(uniforms)) if (u && u.value instanceof Texture) textures.add(u.value);
  }
  for (const g of geometries) g.dispose();
  for (const m of materials) m.dispose();
  for (const t of textures) {
    t.dispose();
    const image = t.source && t.source.data;
    if (image && typeof image.close === 'function') image.close(); // ImageBitmap: free its pixels now
  }
  return { geometries: geometries.size, materials: materials.size, textures: textures.size };
}

/**
 * Unmounts the viewer in el: stops rendering, disposes every geometry, material, texture,
 * the PMREM render target, the controls, the Draco workers and the renderer (with its
 * WebGL context), and removes what mount added. Returns what the renderer still held
 * just before it was disposed (renderer.info.memory: all zero when nothing leaked).
 */
function unmount(el) {
  const v = viewers.get(el);
  if (!v) return null;
  viewers.delete(el);
  v.disposed = true;
  if (v.cancelFrame) v.cancelFrame();
  if (v.resizeObserver) v.resizeObserver.disconnect();
  for (const [target, type, fn] of v.listeners) target.removeEventListener(type, fn);
  v.listeners = [];
  let left = null;
  if (v.renderer) {
    const extra = v.normalMaterial ? [v.normalMaterial, ...allMaterials(v)] : [];
    v.freed = disposeObject(v.scene, extra, v.renderer);
    if (v.scene) v.scene.environment = null;
    if (v.envTarget) v.envTarget.dispose();
    v.controls.dispose();
    v.draco.dispose();
    v.renderer.renderLists.dispose();
    const info = v.renderer.info;
    left = { geometries: info.memory.geometries, textures: info.memory.textures, programs: info.programs.length };
    v.renderer.dispose();
    v.renderer.forceContextLoss();
  }
  for (const node of v.nodes) node.remove();
  el.classList.remove('is-loading', 'is-ready', 'is-error');
  // Drop references so that nothing of the model outlives the element's viewer.
  v.originals = null;
  v.model = null;
  v.scene = null;
  v.renderer = null;
  v.envTarget = null;
  return left;
}

function mountAll(root = document) {
  for (const el of root.querySelectorAll('.studio-viewer[data-src]')) {
    if (!viewers.has(el)) mount(el);
  }
}

window.BodaViewer = {
  mount,
  unmount,
  mountAll,
  get(el) {
    return viewers.get(el) || null;
  },
  get count() {
    return viewers.size;
  },
};

mountAll();
// Pages that swap content (htmx): a .studio-viewer[data-src] added later is mounted, and one taken
// out of the document is unmounted, so that its GPU memory goes with it.
new MutationObserver((records) => {
  if (records.some((r) => r.removedNodes.length)) {
    for (const el of [...viewers.keys()]) if (!el.isConnected) unmount(el);
  }
  for (const r of records) {
    for (const node of r.addedNodes) {
      if (node.nodeType !== 1) continue;
      if (node.matches('.studio-viewer[data-src]') && !viewers.has(node)) mount(node);
      mountAll(node);
    }
  }
}).observe(document.documentElement, { childList: true, subtree: true });
window.addEventListener('pagehide', () => {
  for (const el of [...viewers.keys()]) unmount(el);
});
