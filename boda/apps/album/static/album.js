// Album pages: drag-and-drop upload with a progress bar per file (XHR), search, and the photo actions.
(function () {
  const $ = (id) => document.getElementById(id);
  const text = (key) => $("i18n")?.dataset?.[key] || key;
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  const API = "/api/v1/album";

  function showError(err) {
    const box = $("album-error");
    if (!box) { window.alert(err.message || String(err)); return; }
    box.innerHTML = "";
    const d = document.createElement("div");
    d.className = "alert error"; d.setAttribute("role", "alert"); d.textContent = err.message || String(err);
    box.appendChild(d);
  }

  // --- upload: one request per file, so each has its own progress bar and error ---
  function uploadOne(file, row) {
    return new Promise((resolve) => {
      const bar = row.querySelector("progress"), state = row.querySelector(".state");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${API}/photos`);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; });
      xhr.addEventListener("load", () => {
        bar.value = 1;
        if (xhr.status === 201) {
          const [photo] = xhr.response || [];
          followIndexing(xhr.getResponseHeader("X-Boda-Job-Id"));
          state.textContent = photo?.duplicate_of ? text("duplicate") : text("done");
          state.className = "state done";
          resolve(photo);
        } else {
          state.textContent = `${text("failed")}: ${xhr.response?.error?.message || xhr.statusText}`;
          state.className = "state failed";
          resolve(null);
        }
      });
      xhr.addEventListener("error", () => { state.textContent = text("failed"); state.className = "state failed"; resolve(null); });
      const form = new FormData();
      form.append("files", file, file.name);
      xhr.send(form);
    });
  }

  async function uploadAll(files) {
    const list = $("album-uploads");
    const rows = Array.from(files).map((file) => {
      const row = document.createElement("li");
      row.innerHTML = '<span class="name"></span><progress max="1" value="0"></progress><span class="state"></span>';
      row.querySelector(".name").textContent = file.name;
      list.appendChild(row);
      return [file, row];
    });
    for (let i = 0; i < rows.length; i += 3) {  // three at a time: steady progress without flooding the server
      const done = await Promise.all(rows.slice(i, i + 3).map(([file, row]) => uploadOne(file, row)));
      showNew(done.filter((p) => p && !p.duplicate_of));
    }
  }

  // New photos go to the top of the grid at once; the list of uploads (and any failure) stays in view.
  function showNew(photos) {
    const library = $("album-library");
    if (!library || !photos.length) return;
    let list = library.querySelector('[data-testid="photo-grid"]');
    if (!list) {
      library.querySelector(".empty")?.remove();
      list = grid([]); list.dataset.testid = "photo-grid";
      library.appendChild(list);
    }
    const cells = grid(photos).children;
    for (const cell of Array.from(cells).reverse()) list.prepend(cell);
  }

  function setupDrop() {
    const zone = $("album-drop"), input = $("album-files");
    if (!zone || !input) return;
    input.addEventListener("change", () => { if (input.files.length) uploadAll(input.files); input.value = ""; });
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault(); zone.classList.remove("over");
      if (e.dataTransfer?.files?.length) uploadAll(e.dataTransfer.files);
    });
  }

  // --- search: one box for a sentence, "more like this" (?similar=ID) or a query photo; filters for all ---
  // Every answer is {"items": [{"photo", "score", "matched"}], "total", "limit", "offset", "backend", "pending"};
  // with only filters the library's own list answers ({"items": [photo], "total", ...}).
  const PAGE = 30;
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));

  function cell(photo, hit) {
    const li = document.createElement("li"), a = document.createElement("a"), img = document.createElement("img");
    li.className = "photo-cell" + (photo.favorite ? " favorite" : ""); li.dataset.photoId = photo.id;
    a.href = `/album/photos/${encodeURIComponent(photo.id)}`;
    img.src = `${photo.thumbnail_url}?size=256`; img.alt = photo.filename || ""; img.loading = "lazy";
    a.appendChild(img); li.appendChild(a);
    if (hit) {
      const score = document.createElement("span");
      score.className = "score"; score.textContent = hit.score.toFixed(2); score.title = text("score");
      li.appendChild(score);
      if ((hit.matched || "").includes("text")) {
        const words = document.createElement("span");
        words.className = "words"; words.textContent = text("words");
        li.appendChild(words);
      }
      const more = document.createElement("button");
      more.type = "button"; more.className = "more small secondary"; more.dataset.similar = photo.id;
      more.textContent = "≈"; more.title = text("more"); more.setAttribute("aria-label", text("more"));
      li.appendChild(more);
    }
    return li;
  }

  function grid(photos) {
    const ul = document.createElement("ul");
    ul.className = "photo-grid";
    for (const photo of photos) ul.appendChild(cell(photo, null));
    return ul;
  }

  // A calendar day typed in a date box, as the RFC 3339 instant the API wants (the day's end for "until").
  function dayBound(value, end) {
    if (!value) return "";
    const day = new Date(`${value}T00:00:00`);
    if (end) day.setDate(day.getDate() + 1);
    return day.toISOString();
  }

  function filterParams(form) {
    const params = new URLSearchParams();
    const el = form.elements;
    if (el.date_from.value) params.set("date_from", dayBound(el.date_from.value, false));
    if (el.date_to.value) params.set("date_to", dayBound(el.date_to.value, true));
    for (const name of ["album_id", "person_id", "tag", "camera", "min_lat", "max_lat", "min_lon", "max_lon"]) {
      const value = el[name].value.trim();
      if (value) params.set(name, value);
    }
    if (el.favorite.checked) params.set("favorite", "true");
    if (el.has_text.checked) params.set("has_text", "true");
    return params;
  }

  function setupSearch() {
    const form = $("album-search");
    if (!form) return;
    const out = $("album-search-results"), library = $("album-library"), clear = $("album-search-clear");
    const status = $("album-search-status"), moreWrap = $("album-more-wrap"), more = $("album-more");
    const fileInput = $("album-query-file"), drop = $("album-query-drop");
    const state = { file: null, similar: null, offset: 0, busy: false };

    function showQueryPhoto() {
      const chosen = $("album-query-chosen"), similar = $("album-similar-chosen");
      chosen.hidden = !state.file; similar.hidden = !state.similar;
      if (state.file) {
        chosen.querySelector(".name").textContent = state.file.name;
        const preview = $("album-query-preview");
        if (preview.src) URL.revokeObjectURL(preview.src);
        preview.src = URL.createObjectURL(state.file);
      }
      if (state.similar) $("album-similar-preview").src = `/api/v1/album/photos/${encodeURIComponent(state.similar)}/thumbnail?size=256`;
    }

    function reset() {
      out.hidden = true; out.innerHTML = ""; library.hidden = false; clear.hidden = true; moreWrap.hidden = true;
      status.textContent = ""; form.elements.q.value = ""; state.file = null; state.similar = null;
      showQueryPhoto();
      if (new URLSearchParams(window.location.search).has("similar")) history.replaceState(null, "", "/album");
    }

    function request(offset) {
      const params = filterParams(form);
      const filtered = params.toString() !== "";
      params.set("limit", String(PAGE)); params.set("offset", String(offset));
      const sort = form.elements.sort.value;
      const q = form.elements.q.value.trim();
      if (state.file) {
        params.set("sort", sort);
        const body = new FormData(); body.append("file", state.file, state.file.name);
        return Boda.api(`${API}/search/by-photo?${params}`, { method: "POST", body });
      }
      if (state.similar) { params.set("sort", sort); return Boda.api(`${API}/photos/${encodeURIComponent(state.similar)}/similar?${params}`); }
      if (q) { params.set("sort", sort); params.set("q", q); return Boda.api(`${API}/search?${params}`); }
      return filtered ? Boda.api(`${API}/photos?${params}`) : null;  // the library's list: newest taken first
    }

    async function run(append) {
      if (state.busy) return;
      const offset = append ? state.offset : 0;
      const pending = request(offset);
      if (!pending) { reset(); return; }
      state.busy = true;
      if (!append) { out.innerHTML = ""; }
      out.hidden = false; library.hidden = true; clear.hidden = false; moreWrap.hidden = true;
      out.setAttribute("aria-busy", "true"); status.textContent = text("searching");
      try {
        const body = await pending;
        const items = body?.items || [];
        const ranked = "backend" in (body || {});
        let list = out.querySelector(".photo-grid");
        if (!list) { list = document.createElement("ul"); list.className = "photo-grid"; list.dataset.testid = "result-grid"; out.appendChild(list); }
        for (const item of items) list.appendChild(ranked ? cell(item.photo, item) : cell(item, null));
        state.offset = offset + items.length;
        const parts = [fill(text(ranked ? "found" : "filtered"), { total: body.total })];
        if (ranked) parts.push(fill(text("backend"), { backend: body.backend }));
        if (ranked && body.pending > 0) parts.push(fill(text("pending"), { n: body.pending }));
        status.textContent = parts.join(" · ");
        if (!list.children.length) {
          const p = document.createElement("p"); p.className = "muted"; p.textContent = text("none"); out.appendChild(p);
        }
        moreWrap.hidden = !(items.length && state.offset < body.total);
      } catch (err) {
        status.textContent = "";
        const p = document.createElement("p"); p.className = "alert error"; p.setAttribute("role", "alert");
        p.textContent = err.status === 409 ? text("notIndexed") : err.status === 503 ? text("unavailable") : err.message;
        out.appendChild(p);
      } finally {
        state.busy = false; out.removeAttribute("aria-busy");
      }
    }

    function chooseFile(file) {
      if (!file) return;
      state.file = file; state.similar = null; form.elements.q.value = "";
      showQueryPhoto(); run(false);
    }

    clear.addEventListener("click", reset);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (form.elements.q.value.trim()) { state.file = null; state.similar = null; showQueryPhoto(); }
      run(false);
    });
    form.elements.sort.addEventListener("change", () => { if (!out.hidden) run(false); });
    more.addEventListener("click", () => run(true));
    $("album-filters-reset").addEventListener("click", () => {
      for (const el of form.querySelectorAll("#album-filters input, #album-filters select")) {
        if (el.type === "checkbox") el.checked = false; else el.value = "";
      }
      if (!out.hidden) run(false);
    });
    $("album-query-remove").addEventListener("click", () => { state.file = null; showQueryPhoto(); run(false); });
    $("album-similar-remove").addEventListener("click", () => { state.similar = null; showQueryPhoto(); run(false); });
    fileInput.addEventListener("change", () => { chooseFile(fileInput.files[0]); fileInput.value = ""; });
    for (const zone of [drop, form]) {
      zone.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
      zone.addEventListener("dragleave", () => drop.classList.remove("over"));
      zone.addEventListener("drop", (e) => {
        e.preventDefault(); e.stopPropagation(); drop.classList.remove("over");
        chooseFile(e.dataTransfer?.files?.[0]);
      });
    }
    out.addEventListener("click", (e) => {
      const button = e.target.closest("button[data-similar]");
      if (!button) return;
      state.similar = button.dataset.similar; state.file = null; form.elements.q.value = "";
      showQueryPhoto(); window.scrollTo(0, 0); run(false);
    });
    const start = new URLSearchParams(window.location.search);
    if (start.get("similar")) { state.similar = start.get("similar"); showQueryPhoto(); run(false); }
    else if (start.get("q")) { form.elements.q.value = start.get("q"); run(false); }
  }

  // --- indexing: the upload answers with its album.index job in X-Boda-Job-Id; follow it over SSE ---
  // One request per file makes one job each: the box follows the latest (the earlier ones run before it).
  const watched = new Set();
  let source = null;
  function followIndexing(jobId) {
    const box = $("album-indexing");
    if (!box || !jobId || watched.has(jobId) || !window.Boda?.watchJob) return;
    watched.add(jobId);
    if (source) source.close();
    box.hidden = false; box.querySelector(".done-note").hidden = true; box.dataset.status = "queued";
    const bar = box.querySelector("progress"); if (bar) bar.value = 0;
    source = Boda.watchJob(jobId, box, (final) => {
      box.querySelector(".done-note").hidden = final.status !== "succeeded";
    });
  }

  // --- actions ---
  const json = (method, body) => ({ method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

  async function act(button) {
    const id = encodeURIComponent(button.dataset.photoId || "");
    try {
      switch (button.dataset.action) {
        case "favorite": await Boda.api(`${API}/photos/${id}`, json("PATCH", { favorite: button.dataset.value === "true" })); break;
        case "trash": await Boda.api(`${API}/photos/${id}`, { method: "DELETE" }); window.location.assign("/album"); return;
        case "restore": await Boda.api(`${API}/photos/${id}/restore`, { method: "POST" }); break;
        case "empty-trash": if (!window.confirm(text("confirm"))) return; await Boda.api(`${API}/trash`, { method: "DELETE" }); break;
        case "detach-face": {
          const person = await Boda.api(`${API}/faces/${encodeURIComponent(button.dataset.faceId)}/detach`, { method: "POST" });
          window.location.assign(`/album/people/${encodeURIComponent(person.id)}`); return;
        }
        case "delete-album": await Boda.api(`${API}/albums/${encodeURIComponent(button.dataset.albumId)}`, { method: "DELETE" }); window.location.assign("/album/albums"); return;
        default: return;
      }
      window.location.reload();
    } catch (err) { showError(err); }
  }

  function onSubmit(id, handler) {
    const form = $(id);
    if (!form) return;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      // A handler may answer the address to go to (a new album's page); otherwise the page shows the change.
      try {
        const next = await handler(form);
        if (typeof next === "string") window.location.assign(next); else window.location.reload();
      } catch (err) { showError(err); }
    });
  }

  // --- the photo page: OCR boxes over the picture, a caption and a question by the chat model ---
  // Boxes are fractions of the photo; CSS custom properties (set here: the CSP forbids style attributes)
  // place each one, so they follow the picture at any size.
  function setupOcr() {
    const boxes = $("ocr-boxes"), toggle = $("ocr-toggle");
    if (!boxes) return;
    for (const li of boxes.querySelectorAll("li[data-box]")) {
      const [x, y, w, h] = li.dataset.box.split(",").map(Number);
      li.style.setProperty("--x", `${x * 100}%`); li.style.setProperty("--y", `${y * 100}%`);
      li.style.setProperty("--w", `${w * 100}%`); li.style.setProperty("--h", `${h * 100}%`);
    }
    if (toggle) toggle.addEventListener("change", () => { boxes.hidden = !toggle.checked; });
  }

  // A job's end, by the core's event stream (Boda.watchJob); its final event carries result and error.
  function whenDone(job, el) {
    return new Promise((resolve) => Boda.watchJob(job.id, el, resolve));
  }

  function setupLlm() {
    const section = $("album-llm");
    if (!section) return;
    const id = encodeURIComponent(section.dataset.photoId), language = section.dataset.language;
    const button = $("caption-button"), state = $("caption-state");
    if (button) button.addEventListener("click", async () => {
      button.disabled = true; state.textContent = text("captioning");
      try {
        const job = await Boda.api(`${API}/photos/${id}/caption`, json("POST", { language }));
        const final = await whenDone(job, state);
        if (final.status === "succeeded") { window.location.reload(); return; }
        state.textContent = `${text("jobfailed")}: ${final.error || final.status}`;
      } catch (err) { state.textContent = ""; showError(err); }
      button.disabled = false;
    });
    const form = $("album-ask"), answer = $("ask-answer");
    if (form) form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const question = form.elements.question.value.trim();
      if (!question) return;
      const send = form.querySelector("button"); send.disabled = true;
      answer.className = "answer muted"; answer.textContent = text("thinking");
      try {
        const job = await Boda.api(`${API}/photos/${id}/ask`, json("POST", { question, language }));
        const final = await whenDone(job, answer);
        if (final.status === "succeeded") { answer.className = "answer"; answer.textContent = final.result?.answer || ""; }
        else { answer.className = "answer alert error"; answer.textContent = `${text("jobfailed")}: ${final.error || final.status}`; }
      } catch (err) { answer.textContent = ""; showError(err); }
      send.disabled = false;
    });
  }

  // --- people: rename inline, merge into another person ---
  function setupPeople() {
    document.querySelectorAll("form.person-name").forEach((form) => form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await Boda.api(`${API}/people/${encodeURIComponent(form.dataset.personId)}`, json("PATCH", { name: form.elements.name.value }));
        window.location.reload();
      } catch (err) { showError(err); }
    }));
    document.querySelectorAll("form.person-merge").forEach((form) => form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await Boda.api(`${API}/people/${encodeURIComponent(form.dataset.personId)}/merge`, json("POST", { into: form.elements.into.value }));
        window.location.reload();
      } catch (err) { showError(err); }
    }));
    const hide = $("album-hide-faces"), share = $("album-share");
    if (hide && share) hide.addEventListener("change", async () => {
      try { await Boda.api(`${API}/albums/${encodeURIComponent(share.dataset.albumId)}`, json("PATCH", { hide_faces: hide.checked })); }
      catch (err) { hide.checked = !hide.checked; showError(err); }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupPeople();
    setupDrop();
    setupOcr();
    setupLlm();
    setupSearch();
    document.addEventListener("click", (e) => { const b = e.target.closest("button[data-action]"); if (b) act(b); });
    onSubmit("album-create", async (form) => {
      const album = await Boda.api(`${API}/albums`, json("POST", { title: form.elements.title.value }));
      return `/album/albums/${encodeURIComponent(album.id)}`;  // a reload after assign() would stay here
    });
    onSubmit("album-add", (form) => Boda.api(`${API}/albums/${encodeURIComponent(form.elements.album_id.value)}/photos`,
      json("POST", { photo_ids: [form.dataset.photoId] })));
    onSubmit("album-tag", (form) => Boda.api(`${API}/photos/${encodeURIComponent(form.dataset.photoId)}/tags`,
      json("POST", { name: form.elements.name.value })));
    onSubmit("album-share", (form) => {
      const [visibility, household] = form.elements.target.value.split(":");
      return Boda.api(`${API}/albums/${encodeURIComponent(form.dataset.albumId)}`,
        json("PATCH", household ? { visibility, household_id: household } : { visibility }));
    });
  });
})();
