// 3D Studio pages: enhance (before/after, editable), generate with live progress, upload, like, rate, share.
(function () {
  const $ = (id) => document.getElementById(id);
  const text = (key) => $("i18n")?.dataset?.[key] || key;
  const API = "/api/v1/studio";
  const json = (method, body) => ({ method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

  function showError(err) {
    const box = $("studio-error");
    if (!box) { window.alert(err.message || String(err)); return; }
    box.innerHTML = "";
    const d = document.createElement("div");
    d.className = "alert error"; d.setAttribute("role", "alert"); d.textContent = err.message || String(err);
    box.appendChild(d);
  }

  // --- enhance: the user sees the prompt before and after, and may edit the result ---
  async function enhance() {
    const prompt = $("studio-prompt").value.trim();
    if (!prompt) { $("studio-prompt").reportValidity(); return; }
    const state = $("studio-enhance-state"), button = $("studio-enhance");
    state.textContent = text("enhancing"); button.disabled = true;
    try {
      const candidates = Number($("studio-candidates")?.value || 1);
      const out = await Boda.api(`${API}/enhance`, json("POST", { prompt, candidates }));
      $("studio-before").textContent = out.original;
      $("studio-enhanced").value = out.enhanced;
      const list = $("studio-candidate-list");
      list.innerHTML = "";
      if ((out.candidates || []).length > 1) {
        out.candidates.forEach((c, i) => {
          const li = document.createElement("li");
          const pick = document.createElement("button");
          pick.type = "button"; pick.className = "link";
          pick.textContent = `${c.score != null ? c.score.toFixed(1) + "/10 · " : ""}${c.text}`;
          if (i === out.best_index) li.className = "best";
          pick.addEventListener("click", () => { $("studio-enhanced").value = c.text; });
          li.appendChild(pick);
          list.appendChild(li);
        });
      }
      $("studio-enhanced-box").hidden = false;
      state.textContent = "";
    } catch (err) { state.textContent = ""; showError(err); }
    finally { button.disabled = false; }
  }

  // --- generate: 202 with a job; its progress comes over SSE, then the model's page ---
  async function generate(form) {
    const prompt = $("studio-prompt").value.trim();
    const box = $("studio-enhanced-box");
    const body = { prompt, provider: $("studio-provider").value };
    if (box && !box.hidden && $("studio-enhanced").value.trim()) body.enhanced_prompt = $("studio-enhanced").value.trim();
    if (form.dataset.remixOf) body.remix_of = form.dataset.remixOf;
    const out = await Boda.api(`${API}/generations`, json("POST", body));
    const job = $("studio-job");
    job.hidden = false;
    job.dataset.modelId = out.model.id;
    Boda.watchJob(out.job_id, job, (final) => {
      if (final.status === "succeeded") window.location.assign(`/studio/models/${encodeURIComponent(out.model.id)}`);
      else showError(new Error(final.error || text("failed")));
    });
  }

  async function cancel() {
    const id = $("studio-job")?.dataset?.modelId;
    if (!id) return;
    try { await Boda.api(`${API}/generations/${encodeURIComponent(id)}/cancel`, { method: "POST" }); }
    catch (err) { showError(err); }
  }

  // --- upload with a progress bar (XHR: fetch has no upload progress) ---
  function upload(form) {
    const bar = $("studio-upload-bar");
    const data = new FormData(form);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}/models`);
    xhr.setRequestHeader("X-CSRF-Token", document.querySelector('meta[name="csrf-token"]')?.content || "");
    xhr.responseType = "json";
    bar.hidden = false; bar.value = 0;
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; });
    xhr.addEventListener("load", () => {
      if (xhr.status === 201) window.location.assign(`/studio/models/${encodeURIComponent(xhr.response.id)}`);
      else { bar.hidden = true; showError(new Error(xhr.response?.error?.message || xhr.statusText)); }
    });
    xhr.addEventListener("error", () => { bar.hidden = true; showError(new Error(xhr.statusText || "network error")); });
    xhr.send(data);
  }

  // --- a model's page ---
  const modelId = () => document.querySelector(".model-view")?.dataset?.modelId;

  async function act(el) {
    const id = encodeURIComponent(modelId() || "");
    try {
      switch (el.dataset.action) {
        case "like": await Boda.api(`${API}/models/${id}/like`, { method: el.dataset.liked === "true" ? "DELETE" : "PUT" }); break;
        case "rate": await Boda.api(`${API}/models/${id}/rating`, json("PUT", { score: el.value ? Number(el.value) : null })); break;
        case "delete": if (!window.confirm(text("confirm"))) return; await Boda.api(`${API}/models/${id}`, { method: "DELETE" });
          window.location.assign("/studio"); return;
        default: return;
      }
      window.location.reload();
    } catch (err) { showError(err); }
  }

  async function share(form) {
    const visibility = form.elements.visibility.value;
    const body = { visibility };
    if (visibility === "household") body.household_id = form.elements.household_id?.value;
    await Boda.api(`${API}/models/${encodeURIComponent(modelId())}`, json("PATCH", body));
    window.location.reload();
  }

  async function systemPrompt(form, reset) {
    const value = reset ? null : form.elements.system_prompt.value;
    const out = await Boda.api(`${API}/prompt`, json("PUT", { system_prompt: value }));
    const lang = document.documentElement.lang === "ko" ? "ko" : "en";
    form.elements.system_prompt.value = out.system_prompt || out.defaults[lang];
  }

  function on(id, event, handler) {
    const el = $(id);
    if (el) el.addEventListener(event, async (e) => { e.preventDefault(); try { await handler(el); } catch (err) { showError(err); } });
  }

  document.addEventListener("DOMContentLoaded", () => {
    on("studio-enhance", "click", enhance);
    on("studio-generate", "submit", generate);
    on("studio-cancel", "click", cancel);
    on("studio-upload", "submit", upload);
    on("studio-share", "submit", share);
    on("studio-system-prompt", "submit", (form) => systemPrompt(form, false));
    on("studio-system-reset", "click", () => systemPrompt($("studio-system-prompt"), true));
    document.querySelectorAll('button[data-action]').forEach((b) => b.addEventListener("click", () => act(b)));
    document.querySelectorAll('select[data-action]').forEach((s) => s.addEventListener("change", () => act(s)));
    const job = $("studio-job");
    if (job?.dataset?.jobId) Boda.watchJob(job.dataset.jobId, job, () => window.location.reload());
  });
})();
