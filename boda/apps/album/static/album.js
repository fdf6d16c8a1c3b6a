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

  // --- search: GET /search?q= answers {"items": [{"photo": {...}, "score": ...}]} ---
  function grid(photos) {
    const ul = document.createElement("ul");
    ul.className = "photo-grid";
    for (const photo of photos) {
      const li = document.createElement("li"), a = document.createElement("a"), img = document.createElement("img");
      li.className = "photo-cell"; a.href = `/album/photos/${encodeURIComponent(photo.id)}`;
      img.src = `${photo.thumbnail_url}?size=256`; img.alt = photo.filename || ""; img.loading = "lazy";
      a.appendChild(img); li.appendChild(a); ul.appendChild(li);
    }
    return ul;
  }

  function setupSearch() {
    const form = $("album-search"), out = $("album-search-results"), library = $("album-library"), clear = $("album-search-clear");
    if (!form) return;
    const reset = () => { out.hidden = true; out.innerHTML = ""; library.hidden = false; clear.hidden = true; form.elements.q.value = ""; };
    clear.addEventListener("click", reset);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const q = form.elements.q.value.trim();
      if (!q) { reset(); return; }
      out.innerHTML = ""; out.hidden = false; library.hidden = true; clear.hidden = false;
      try {
        const body = await Boda.api(`${API}/search?q=${encodeURIComponent(q)}`);
        const photos = (body?.items || []).map((item) => item.photo);
        if (photos.length) out.appendChild(grid(photos));
        else { const p = document.createElement("p"); p.className = "muted"; p.textContent = text("none"); out.appendChild(p); }
      } catch (err) {
        const p = document.createElement("p"); p.className = "alert error"; p.setAttribute("role", "alert");
        p.textContent = err.status === 404 || err.status === 503 ? text("unavailable") : err.message;
        out.appendChild(p);
      }
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
      try { await handler(form); window.location.reload(); } catch (err) { showError(err); }
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

  document.addEventListener("DOMContentLoaded", () => {
    setupDrop();
    setupOcr();
    setupLlm();
    setupSearch();
    document.addEventListener("click", (e) => { const b = e.target.closest("button[data-action]"); if (b) act(b); });
    onSubmit("album-create", async (form) => {
      const album = await Boda.api(`${API}/albums`, json("POST", { title: form.elements.title.value }));
      window.location.assign(`/album/albums/${encodeURIComponent(album.id)}`);
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
