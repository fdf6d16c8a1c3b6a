// The recipe recommendation while the model writes: the form's choices go as JSON to the streaming API,
// the text grows in a live region with a progress bar, then the checked recipe replaces it. Without
// JavaScript the form posts as a plain form and the page answers whole. No inline script or style (CSP).
(function () {
  const section = document.getElementById("recommend");
  const form = document.getElementById("recommend-form");
  if (!section || !form || !window.fetch || !window.TextDecoder) return;
  const $ = (id) => document.getElementById(id);
  const live = $("recommend-live"), text = $("recommend-text"), status = $("recommend-status");
  const progress = $("recommend-progress");
  const label = (key) => section.dataset[key] || "";
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  const list = (value) => value.split(",").map((x) => x.trim()).filter(Boolean);
  let updates = 0;

  function element(tag, content, className) {
    const el = document.createElement(tag);
    if (content !== undefined) el.textContent = content;
    if (className) el.className = className;
    return el;
  }

  // Where answers and errors go: the page's #msg, as the plain post and htmx put them.
  function place(el) {
    el.id = "msg";
    const old = $("msg");
    if (old) old.replaceWith(el); else section.before(el);
    el.scrollIntoView({ block: "start" });
  }

  function fail(message) {
    const box = element("div", message || label("failed"), "alert error");
    box.setAttribute("role", "alert");
    place(box);
    live.dataset.state = "error";
    live.setAttribute("aria-busy", "false");
    live.hidden = true;  // the alert says it; a half-written answer is no use
  }

  // The same recipe _recommendation.html renders: name, ingredients, steps, sources, the JSON.
  function render(r) {
    const out = element("section", undefined, "panel recommendation");
    out.append(element("h2", r.recipe_name), element("h3", label("ingredients")));
    const ul = element("ul");
    for (const i of r.recipe_ingredients) ul.append(element("li", i));
    out.append(ul, element("h3", label("steps")));
    const ol = element("ol");
    for (const s of r.recipes) ol.append(element("li", s));
    out.append(ol);
    if (r.sources && r.sources.length) {
      const p = element("p", label("grounded") + " ", "muted small");
      r.sources.forEach((s, n) => {
        const a = element("a", s.title);
        a.href = s.url; a.rel = "noopener";
        p.append(a);
        if (s.attribution) p.append(` (${s.attribution})`);
        if (n < r.sources.length - 1) p.append(", ");
      });
      out.append(p);
    }
    const details = element("details");
    details.append(element("summary", "JSON"), element("pre", JSON.stringify(
      { recipe_name: r.recipe_name, recipe_ingredients: r.recipe_ingredients, recipes: r.recipes }, null, 2), "json"));
    out.append(details);
    place(out);
  }

  function show(event) {
    if (event.delta !== undefined) {
      text.textContent += event.delta;
      updates += 1;
      live.dataset.updates = String(updates);
      status.textContent = label("writing").replace("{n}", text.textContent.length);
    } else if (event.restart) {  // what was shown did not pass the checks: the model is asked again
      text.textContent = "";
      status.textContent = label("restart");
    } else if (event.result) {
      live.dataset.state = "done";
      live.setAttribute("aria-busy", "false");
      progress.hidden = true;
      text.hidden = true;
      status.textContent = label("ready");
      render(event.result);
    } else if (event.error) {
      fail(event.error);
    }
  }

  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const data = new FormData(form);
    const body = {
      ingredients: data.getAll("ingredient").concat(list(String(data.get("extra") || ""))),
      except_recipe: list(String(data.get("exclude") || "")),
      language: document.documentElement.lang === "ko" ? "ko" : "en",
    };
    if (section.dataset.household) body.household_id = section.dataset.household;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    text.textContent = ""; text.hidden = false; progress.hidden = false; updates = 0;
    live.hidden = false; live.dataset.state = "writing"; live.dataset.updates = "0";
    live.setAttribute("aria-busy", "true");
    status.textContent = label("writing").replace("{n}", "0");
    place(element("div"));
    try {
      const response = await fetch("/api/v1/pantry/recommend/stream", {
        method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream", "X-CSRF-Token": csrf() } });
      if (!response.ok) {  // e.g. 503 with no model: the error body is in the reader's language already
        const error = await response.json().catch(() => null);
        fail(error?.error?.message);
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "", finished = false;
      for (;;) {
        const { value, done } = await reader.read();
        buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const payload = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
          if (!payload) continue;
          const event = JSON.parse(payload);
          finished = finished || Boolean(event.result || event.error);
          show(event);
        }
        if (done) break;
      }
      if (!finished) fail();  // the connection ended before an answer
    } catch (err) {
      fail();  // the network failed: the browser's own words would be in English
    } finally {
      button.disabled = false;
    }
  });
})();
