// Vision tools page: drawing pad for digits, face anonymisation, MNIST samples.
(function () {
  const $ = (id) => document.getElementById(id);
  const i18n = () => $("i18n")?.dataset || {};
  const showError = (box, err) => { box.innerHTML = ""; if (err) { const d = document.createElement("div"); d.className = "alert error"; d.setAttribute("role", "alert"); d.textContent = err.message || String(err); box.appendChild(d); } };

  function setupPad() {
    const pad = $("pad");
    if (!pad) return;
    const ctx = pad.getContext("2d");
    const clear = () => { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, pad.width, pad.height); };
    clear();
    ctx.lineWidth = 18; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
    let drawing = false;
    const point = (e) => { const r = pad.getBoundingClientRect(); return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height]; };
    pad.addEventListener("pointerdown", (e) => { drawing = true; pad.setPointerCapture(e.pointerId); const [x, y] = point(e); ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 0.1, y + 0.1); ctx.stroke(); });
    pad.addEventListener("pointermove", (e) => { if (!drawing) return; const [x, y] = point(e); ctx.lineTo(x, y); ctx.stroke(); });
    const stop = () => { drawing = false; };
    pad.addEventListener("pointerup", stop); pad.addEventListener("pointerleave", stop);
    $("pad-clear").addEventListener("click", () => { clear(); $("digit-text").textContent = "–"; $("digit-list").innerHTML = ""; showError($("digit-error")); });
    $("pad-read").addEventListener("click", () => pad.toBlob((blob) => read(blob, "pad.png"), "image/png"));
    $("digit-file").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) read(f, f.name); });
  }

  async function read(blob, name) {
    const form = new FormData();
    form.append("file", blob, name);
    form.append("multi", $("pad-multi").checked ? "true" : "false");
    showError($("digit-error"));
    $("digit-text").textContent = "…";
    try {
      const out = await Boda.api("/api/v1/vision/digits", { method: "POST", body: form });
      $("digit-text").textContent = out.text;
      $("digit-list").innerHTML = "";
      for (const d of out.digits) {
        const el = document.createElement("div");
        el.className = "digit";
        el.innerHTML = `<b></b><small></small>`;
        el.querySelector("b").textContent = d.digit;
        el.querySelector("small").textContent = `${i18n().confidence} ${(d.confidence * 100).toFixed(1)}%`;
        $("digit-list").appendChild(el);
      }
    } catch (err) {
      // An error leaves no earlier reading behind: it would look like the answer for this image.
      $("digit-text").textContent = "–"; $("digit-list").innerHTML = "";
      showError($("digit-error"), err);
    }
  }

  function compare(item) {
    const t = i18n();
    const wrap = document.createElement("div");
    wrap.className = "panel";
    wrap.innerHTML = `<p class="found"></p><div class="compare"><figure><figcaption></figcaption><img class="before" alt=""></figure><figure><figcaption></figcaption><img class="after" alt="" data-testid="anonymized"></figure></div><a class="download"></a>`;
    wrap.querySelector(".found").textContent = t.found.replace("{n}", item.faces.length);
    const caps = wrap.querySelectorAll("figcaption");
    caps[0].textContent = t.before; caps[1].textContent = t.after;
    const before = wrap.querySelector(".before");
    before.src = item.original.url;
    // A browser that cannot show the original (HEIC outside Safari) shows its name instead of a broken image.
    before.addEventListener("error", () => { const name = document.createElement("p"); name.className = "muted"; name.textContent = item.original.filename; before.replaceWith(name); });
    before.addEventListener("load", () => {
      // Draw the detected face boxes over the original, scaled to its shown size.
      const figure = before.parentElement;
      figure.style.position = "relative";
      const sx = before.clientWidth / before.naturalWidth, sy = before.clientHeight / before.naturalHeight;
      for (const face of item.faces) {
        const [x, y, w, h] = face.box;
        const mark = document.createElement("div");
        mark.className = "facebox";
        mark.title = `${(face.score * 100).toFixed(0)}%`;
        Object.assign(mark.style, { left: `${before.offsetLeft + x * sx}px`, top: `${before.offsetTop + y * sy}px`, width: `${w * sx}px`, height: `${h * sy}px` });
        figure.appendChild(mark);
      }
    });
    wrap.querySelector(".after").src = item.anonymized.url;
    const a = wrap.querySelector(".download");
    a.href = item.anonymized.url + "?download=true"; a.textContent = t.download;
    return wrap;
  }

  function setupFaces() {
    const form = $("face-form");
    if (!form) return;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const files = $("face-files").files;
      const data = new FormData(form);
      const button = $("face-submit");
      showError($("face-error"));
      $("face-result").innerHTML = ""; $("face-job").innerHTML = "";
      button.disabled = true; button.textContent = i18n().busy;
      try {
        if (files.length === 1) {
          data.delete("files"); data.append("file", files[0], files[0].name);
          const out = await Boda.api("/api/v1/vision/anonymize", { method: "POST", body: data });
          $("face-result").appendChild(compare(out));
        } else {
          const job = await Boda.api("/api/v1/vision/anonymize/batch", { method: "POST", body: data });
          const el = document.createElement("div");
          el.className = "job"; el.dataset.jobId = job.id; el.dataset.status = job.status;
          el.innerHTML = `<div class="job-head"><strong></strong><span class="status" data-role="status"></span></div><progress max="100" value="0" data-role="bar"></progress><div class="muted" data-role="message"></div>`;
          el.querySelector("strong").textContent = job.title;
          $("face-job").appendChild(el);
          Boda.updateBadge();
          // Every photo the batch made, also when it was canceled or failed half way, and one ZIP of them.
          Boda.watchJob(job.id, el, (final) => Boda.renderResult(el, final.result));
        }
      } catch (err) { showError($("face-error"), err); }
      finally { button.disabled = false; button.textContent = form.dataset.label || button.textContent; }
    });
    $("face-submit") && (form.dataset.label = $("face-submit").textContent);
  }

  // A video runs as a job: its bar moves with the job's events; the result plays in the page.
  function setupVideos() {
    const form = $("video-form");
    if (!form) return;
    const button = $("video-submit");
    const label = button.textContent;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      showError($("video-error"));
      $("video-job").innerHTML = ""; $("video-result").innerHTML = "";
      button.disabled = true; button.textContent = i18n().busy;
      try {
        const job = await Boda.api("/api/v1/vision/videos", { method: "POST", body: new FormData(form) });
        const el = document.createElement("div");
        el.className = "job"; el.dataset.jobId = job.id; el.dataset.status = job.status;
        el.innerHTML = `<div class="job-head"><strong></strong><span class="status" data-role="status"></span></div><progress max="100" value="0" data-role="bar" data-testid="video-progress"></progress><div class="muted" data-role="message"></div>`;
        el.querySelector("strong").textContent = job.title;
        $("video-job").appendChild(el);
        Boda.updateBadge();
        Boda.watchJob(job.id, el, async (final) => {
          if (final.status !== "succeeded") return;
          try { showVideo(await Boda.api(`/api/v1/vision/videos/${job.id}`)); }
          catch (err) { showError($("video-error"), err); }
        });
      } catch (err) { showError($("video-error"), err); }
      finally { button.disabled = false; button.textContent = label; }
    });
  }

  function showVideo(out) {
    const t = i18n();
    const box = $("video-result");
    box.innerHTML = `<h2></h2><p class="muted"></p><video controls preload="metadata" data-testid="video-player"></video><p><a class="download"></a></p>`;
    box.querySelector("h2").textContent = t.videoResult;
    const summary = t.videoSummary.replace("{frames}", out.result.frames).replace("{with_faces}", out.result.frames_with_faces);
    box.querySelector("p.muted").textContent = out.result.audio_left_out ? `${summary}. ${t.soundLeftOut}` : summary;
    const player = box.querySelector("video");
    player.src = out.download_url;
    player.width = Math.min(out.anonymized.width || 640, 960);
    const a = box.querySelector(".download");
    a.href = out.download_url + "?download=true"; a.textContent = t.download;
  }

  // Delete with undo: the item hides at once and is deleted only when the undo window closes.
  function setupRecent() {
    const toast = $("undo-toast");
    if (!toast) return;
    let pending = null;
    const commit = async () => {
      if (!pending) return;
      const { id, el, timer } = pending;
      clearTimeout(timer);
      pending = null;
      toast.hidden = true;
      try { await Boda.api(`/api/v1/vision/anonymizations/${id}`, { method: "DELETE" }); el.remove(); }
      catch (err) { el.hidden = false; alert(err.message); }
    };
    document.addEventListener("click", async (e) => {
      const id = e.target?.dataset?.remove;
      if (!id) return;
      await commit();  // one pending deletion at a time
      const el = e.target.closest("[data-anonymization]");
      el.hidden = true;
      toast.hidden = false;
      pending = { id, el, timer: setTimeout(commit, UNDO_MS) };
    });
    $("undo").addEventListener("click", () => {
      if (!pending) return;
      clearTimeout(pending.timer);
      pending.el.hidden = false;
      pending = null;
      toast.hidden = true;
    });
    window.addEventListener("pagehide", () => { if (pending) navigator.sendBeacon && commit(); });
  }
  const UNDO_MS = Number(document.body.dataset.undoMs || 6000);

  document.addEventListener("DOMContentLoaded", () => { setupPad(); setupFaces(); setupVideos(); setupRecent(); });
})();
