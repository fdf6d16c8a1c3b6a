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
      try { await handler(form); window.location.reload(); } catch (err) { showError(err); }
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
