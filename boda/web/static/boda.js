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

  // Follow one job: updates the element's bar, status and message until the final event.
  // When the server restarts, the stream ends with a `reconnect` event and EventSource comes back
  // by itself with Last-Event-ID. Should a proxy answer 502 meanwhile, EventSource gives up: open a
  // new one after the last id seen (`?after=`), so nothing is lost or shown twice.
  function watchJob(id, el, onFinal) {
    const bar = el.querySelector('[data-role="bar"]');
    const status = el.querySelector('[data-role="status"]');
    const message = el.querySelector('[data-role="message"]');
    const set = (data) => {
      if (data.progress !== undefined && bar) bar.value = data.progress;
      if (data.message !== undefined && message) message.textContent = data.error || data.message || "";
      if (data.status && status) {
        status.textContent = statusText(data.status);
        status.className = `status status-${data.status}`;
        el.dataset.status = data.status;
      }
    };
    let lastId = "";
    let done = false;
    const open = () => {
      const source = new EventSource(`/api/v1/jobs/${id}/events` + (lastId ? `?after=${lastId}` : ""));
      const on = (type, handle) => source.addEventListener(type, (e) => {
        if (e.lastEventId) lastId = e.lastEventId;
        handle(JSON.parse(e.data));
      });
      on("progress", set);
      on("status", set);
      on("final", (data) => {
        done = true;
        set(data);
        source.close();
        el.querySelector("[data-cancel]")?.remove();
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
    document.querySelectorAll("[data-job-id]").forEach((el) => {
      if (["queued", "running"].includes(el.dataset.status)) watchJob(el.dataset.jobId, el);
    });
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

  window.Boda = { api, watchJob, updateBadge, statusText };
})();
