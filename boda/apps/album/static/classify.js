// Album classifiers: create, label ticked photos, train (a job with a progress bar), roll back, delete.
(function () {
  const $ = (id) => document.getElementById(id);
  const API = "/api/v1/album/classifiers";
  const json = (method, body) => ({ method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

  function showError(err) {
    const box = $("album-error");
    box.innerHTML = "";
    const d = document.createElement("div");
    d.className = "alert error"; d.setAttribute("role", "alert"); d.textContent = err.message || String(err);
    box.appendChild(d);
  }

  const ticked = () => Array.from(document.querySelectorAll('.pick-grid input[name="photo"]:checked')).map((i) => i.value);

  function jobElement(job) {
    const el = document.createElement("div");
    el.className = "job"; el.dataset.jobId = job.id; el.dataset.status = job.status;
    el.innerHTML = '<div class="job-head"><strong></strong><span class="status" data-role="status"></span></div><progress max="100" value="0" data-role="bar"></progress><div class="muted" data-role="message"></div>';
    el.querySelector("strong").textContent = job.title;
    return el;
  }

  function follow(el) {
    // The page shows the new version, its accuracy and confusion once the job is over.
    Boda.watchJob(el.dataset.jobId, el, (final) => { if (final.status === "succeeded") window.location.reload(); });
  }

  async function act(button, id) {
    const base = `${API}/${encodeURIComponent(id)}`;
    switch (button.dataset.classify) {
      case "train": {
        button.disabled = true;
        try {
          const job = await Boda.api(`${base}/train`, { method: "POST" });
          const el = jobElement(job);
          $("classifier-job").replaceChildren(el);
          Boda.updateBadge();
          follow(el);
        } finally { button.disabled = false; }
        return;
      }
      case "activate": await Boda.api(`${base}/versions/${encodeURIComponent(button.dataset.version)}/activate`, { method: "POST" }); break;
      case "unlabel": { const ids = ticked(); if (!ids.length) return; await Boda.api(`${base}/examples/remove`, json("POST", { photo_ids: ids })); break; }
      case "delete":
        if (!window.confirm(button.dataset.confirm)) return;
        await Boda.api(base, { method: "DELETE" }); window.location.assign("/album/classifiers"); return;
      default: return;
    }
    window.location.reload();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const create = $("classifier-create");
    create?.addEventListener("submit", async (e) => {
      e.preventDefault();
      const classes = create.elements.classes.value.split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
      try {
        const made = await Boda.api(API, json("POST", { name: create.elements.name.value, classes }));
        window.location.assign(`/album/classifiers/${encodeURIComponent(made.id)}`);
      } catch (err) { showError(err); }
    });
    const root = $("classifier");
    if (!root) return;
    const id = root.dataset.classifierId;
    root.querySelectorAll("[data-follow]").forEach(follow);
    root.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-classify]");
      if (b) act(b, id).catch(showError);
    });
    $("classifier-label").addEventListener("submit", async (e) => {
      e.preventDefault();
      const ids = ticked();
      if (!ids.length) return;
      try { await Boda.api(`${base(id)}/examples`, json("POST", { photo_ids: ids, label: e.target.elements.label.value })); window.location.reload(); }
      catch (err) { showError(err); }
    });
  });
  const base = (id) => `${API}/${encodeURIComponent(id)}`;
})();
