// Boda's small client: CSRF on every unsafe request, live job progress over SSE.
(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function api(path, options = {}) {
    const headers = Object.assign({ "X-CSRF-Token": csrf() }, options.headers || {});
    const response = await fetch(path, Object.assign({}, options, { headers, credentials: "same-origin" }));
    const isJson = (response.headers.get("content-type") || "").includes("json");
    const text = isJson ? await response.text() : "";
    const body = text ? JSON.parse(text) : null;  // a 204 has no body at all
    if (!response.ok) {
      const message = body?.error?.message || response.statusText;
      throw Object.assign(new Error(message), { status: response.status, body });
    }
    return body;
  }

  const statusText = (s) => document.documentElement.lang === "ko"
    ? { queued: "대기 중", running: "실행 중", succeeded: "완료", failed: "실패", canceled: "취소됨" }[s] || s
    : { queued: "Queued", running: "Running", succeeded: "Done", failed: "Failed", canceled: "Canceled" }[s] || s;

  const FINISHED = ["succeeded", "failed", "canceled"];
  const lang = () => document.documentElement.lang;
  // Labels the server rendered (jobs page, Vision page), else these.
  const label = (key, fallback) => document.getElementById("job-list")?.dataset?.[key] || document.getElementById("i18n")?.dataset?.[key] || fallback;

  // Put a job's state (an SSE event or a row of the list) into its element.
  function showState(el, data) {
    const bar = el.querySelector('[data-role="bar"]');
    const status = el.querySelector('[data-role="status"]');
    const message = el.querySelector('[data-role="message"]');
    if (data.progress !== undefined && bar) bar.value = data.progress;
    if (data.message !== undefined && message) message.textContent = data.error || data.message || "";
    if (data.status && status) {
      status.textContent = statusText(data.status);
      status.className = `status status-${data.status}`;
      el.dataset.status = data.status;
    }
    if (FINISHED.includes(data.status)) el.querySelector("[data-cancel]")?.remove();
  }

  // What a job made: every item's picture (a canceled batch too: its result grows item by item) and one download.
  function renderResult(el, result) {
    let box = el.querySelector('[data-role="result"]');
    if (!box) { box = document.createElement("div"); box.dataset.role = "result"; el.appendChild(box); }
    box.innerHTML = "";
    if (!result) return;
    const items = (result.items || []).filter((item) => item.anonymized_url);
    if (result.photos && result.done !== undefined && result.done < result.photos) {
      const made = document.createElement("p");
      made.className = "muted";
      made.textContent = label("made", "{done} of {total} made").replace("{done}", result.done).replace("{total}", result.photos);
      box.appendChild(made);
    }
    if (items.length) {
      const thumbs = document.createElement("div");
      thumbs.className = "thumbs";
      for (const item of items) {
        const a = document.createElement("a");
        a.href = item.anonymized_url; a.target = "_blank";
        const img = document.createElement("img");
        img.src = item.anonymized_url; img.alt = ""; img.loading = "lazy"; img.className = "result-thumb";
        a.appendChild(img);
        thumbs.appendChild(a);
      }
      box.appendChild(thumbs);
    }
    if (result.frames !== undefined && result.file_id && result.download_url) {  // an anonymised video
      const player = document.createElement("video");
      player.controls = true; player.preload = "metadata"; player.className = "result-video"; player.width = 320;
      player.src = result.download_url;
      box.appendChild(player);
    }
    if (items.length && result.download_url) {
      const a = document.createElement("a");
      a.className = "button secondary small download-all"; a.href = result.download_url; a.download = "";
      a.textContent = label("zip", lang() === "ko" ? "모두 내려받기 (ZIP)" : "Download all (ZIP)");
      box.appendChild(a);
    }
  }

  // Follow one job: updates the element's bar, status and message until the final event.
  // When the server restarts, the stream ends with a `reconnect` event and EventSource comes back
  // by itself with Last-Event-ID. Should a proxy answer 502 meanwhile, EventSource gives up: open a
  // new one after the last id seen (`?after=`), so nothing is lost or shown twice.
  function watchJob(id, el, onFinal) {
    el.dataset.watching = "1";
    let lastId = "";
    let done = false;
    const open = () => {
      const source = new EventSource(`/api/v1/jobs/${id}/events` + (lastId ? `?after=${lastId}` : ""));
      const on = (type, handle) => source.addEventListener(type, (e) => {
        if (e.lastEventId) lastId = e.lastEventId;
        handle(JSON.parse(e.data));
      });
      on("progress", (data) => showState(el, data));
      on("status", (data) => showState(el, data));
      on("final", (data) => {
        done = true;
        showState(el, data);
        source.close();
        delete el.dataset.watching;
        updateBadge();
        if (onFinal) onFinal(data);
      });
      source.onerror = () => {
        if (!done && source.readyState === EventSource.CLOSED) setTimeout(open, 2000);
      };
      return source;
    };
    return open();
  }

  // The jobs page lives: jobs started elsewhere (another tab, the API, the CLI) appear, and every row moves.
  // One cheap poll of the list (a bodiless 304 while nothing changed); SSE for the first few unfinished jobs,
  // whose bars then move smoothly (a browser allows only ~6 connections to a host).
  const MAX_WATCHED = 4;
  function liveJobs() {
    const list = document.getElementById("job-list");
    const template = document.getElementById("job-row");
    if (!list || !template) return;
    const watched = () => list.querySelectorAll("[data-watching]").length;
    const follow = (el) => watchJob(el.dataset.jobId, el, (final) => renderResult(el, final.result));
    list.querySelectorAll("[data-job-id]").forEach((el) => {
      if (!FINISHED.includes(el.dataset.status) && watched() < MAX_WATCHED) follow(el);
    });
    const rowFor = (job) => {
      const el = template.content.firstElementChild.cloneNode(true);
      el.dataset.jobId = job.id;
      el.querySelector("strong").textContent = job.title || job.kind;
      const time = el.querySelector("time");
      time.setAttribute("datetime", job.created_at);
      time.textContent = new Date(job.created_at).toLocaleString(lang());
      el.querySelector("[data-cancel]").dataset.cancel = job.id;
      return el;
    };
    let etag = null;
    async function poll() {
      if (document.hidden) return;
      let response;
      try {
        response = await fetch("/api/v1/jobs?limit=50", { headers: etag ? { "If-None-Match": etag } : {}, credentials: "same-origin", cache: "no-store" });
      } catch (err) { return; }
      if (response.status !== 200) return;  // 304: nothing changed
      etag = response.headers.get("etag");
      const page = await response.json();
      let anchor = null;
      for (const job of page.items) {  // newest first
        let el = list.querySelector(`[data-job-id="${CSS.escape(job.id)}"]`);
        const fresh = !el;
        if (fresh) {
          el = rowFor(job);
          if (anchor) anchor.after(el); else list.prepend(el);
        }
        if (!el.dataset.watching && (fresh || el.dataset.status !== job.status || !FINISHED.includes(job.status))) {
          showState(el, job);
          if (FINISHED.includes(job.status)) renderResult(el, job.result);
          else if (watched() < MAX_WATCHED) follow(el);
        }
        anchor = el;
      }
      document.getElementById("jobs-none").hidden = page.items.length > 0 || list.children.length > 0;
      updateBadge();
    }
    setInterval(poll, Number(list.dataset.pollMs || 3000));
    document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  }

  // The nav badge counts the caller's unfinished jobs, on every page.
  async function updateBadge() {
    const badge = document.getElementById("jobs-running");
    if (!badge) return;
    try {
      const page = await api("/api/v1/jobs?status=queued&status=running&limit=1");
      badge.hidden = page.total === 0;
      badge.textContent = page.total;
    } catch (err) { badge.hidden = true; }
  }

  document.addEventListener("DOMContentLoaded", () => {
    liveJobs();
    updateBadge();
    document.querySelectorAll("time[datetime]").forEach((t) => {
      t.textContent = new Date(t.getAttribute("datetime")).toLocaleString(document.documentElement.lang);
    });
    document.addEventListener("click", async (e) => {
      const id = e.target?.dataset?.cancel;
      if (!id) return;
      e.preventDefault();
      try { await api(`/api/v1/jobs/${id}/cancel`, { method: "POST" }); } catch (err) { alert(err.message); }
    });
    const tokenForm = document.getElementById("token-form");
    tokenForm?.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = new FormData(tokenForm).get("name") || "token";
      const out = await api("/api/v1/tokens", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
      const pre = document.getElementById("token-secret");
      pre.hidden = false;
      pre.textContent = out.token;
    });
  });

  // htmx leaves 4xx answers unswapped; show their message where the form asks for it.
  document.addEventListener("htmx:beforeSwap", (e) => {
    const status = e.detail.xhr.status;
    if (status < 400) {
      const box = e.detail.requestConfig?.elt?.dataset?.errorTarget;
      if (box) document.querySelector(box).innerHTML = "";
      return;
    }
    const box = e.detail.requestConfig?.elt?.dataset?.errorTarget;
    if (box) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
      e.detail.target = document.querySelector(box);
      e.detail.swapOverride = "innerHTML";
    }
  });

  window.Boda = { api, watchJob, updateBadge, statusText, renderResult, showState };
})();
