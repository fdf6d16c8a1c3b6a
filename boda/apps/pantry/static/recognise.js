// Photo to ingredients: upload, follow the job, show the photo with its boxes and the candidates as chips
// the user can untick or rename, then add what is kept to the fridge. No inline script or style (CSP).
(function () {
  const section = document.getElementById("photo-recognise");
  if (!section) return;
  const $ = (id) => document.getElementById(id);
  const form = $("recognise-form"), job = $("recognise-job"), result = $("recognise-result");
  const chips = $("recognise-chips"), svg = $("recognise-boxes"), img = $("recognise-img");
  const errorBox = $("recognise-error"), done = $("recognise-done"), add = $("recognise-add");
  const ko = document.documentElement.lang === "ko";
  const SVG = "http://www.w3.org/2000/svg";
  let recognition = null;

  const say = (el, text) => { el.textContent = text; el.hidden = !text; };
  const sourceName = (source) => {
    const key = source.startsWith("llm:") ? "llm" : source;
    const text = section.dataset["source" + key.replace(/[:_]/g, "-").split("-").map((p) => p[0].toUpperCase() + p.slice(1)).join("")];
    return source.startsWith("llm:") ? `${text || "LLM"} (${source.slice(4)})` : text || source;
  };

  function drawBoxes() {
    svg.replaceChildren();
    if (!recognition || !recognition.width) return;
    svg.setAttribute("viewBox", `0 0 ${recognition.width} ${recognition.height}`);
    const size = Math.max(14, Math.round(recognition.width / 40));
    chips.querySelectorAll("li").forEach((li) => {
      const c = recognition.candidates[Number(li.dataset.index)];
      const on = li.querySelector("input[type=checkbox]").checked;
      const name = li.querySelector("input[type=text]").value;
      for (const [x, y, w, h] of c.boxes || []) {
        const rect = document.createElementNS(SVG, "rect");
        for (const [k, v] of Object.entries({ x, y, width: w, height: h })) rect.setAttribute(k, v);
        if (!on) rect.setAttribute("class", "off");
        const label = document.createElementNS(SVG, "text");
        label.setAttribute("x", x + 4); label.setAttribute("y", y + size + 2); label.setAttribute("font-size", size);
        label.textContent = `${name} ${Math.round(c.confidence * 100)}%`;
        svg.append(rect, label);
      }
    });
  }

  function chip(c, index) {
    const li = document.createElement("li");
    li.className = "recognise-chip" + (c.confidence < 0.5 ? " low" : "");
    li.dataset.index = index;
    const box = document.createElement("input");
    box.type = "checkbox"; box.checked = c.confidence >= 0.25; box.setAttribute("aria-label", c.name_ko);
    const name = document.createElement("input");
    name.type = "text"; name.maxLength = 128; name.required = true; name.value = ko ? c.name_ko : c.name_en;
    name.setAttribute("aria-label", c.name_en);
    if (c.alternatives && c.alternatives.length) {  // other names said for the same box: one tap to rename
      const list = document.createElement("datalist");
      list.id = `recognise-alt-${index}`;
      for (const a of c.alternatives) {
        const option = document.createElement("option");
        option.value = ko ? a.name_ko : a.name_en;
        option.label = `${Math.round(a.confidence * 100)}% ${sourceName(a.source)}`;
        list.appendChild(option);
      }
      name.setAttribute("list", list.id);
      li.appendChild(list);
    }
    const qty = document.createElement("input");
    qty.type = "number"; qty.min = "0.001"; qty.step = "any"; qty.value = c.quantity || c.count || 1;
    qty.inputMode = "decimal";
    li.dataset.unit = c.unit || "";
    qty.setAttribute("aria-label", section.dataset.count || "count");
    const conf = document.createElement("span");
    conf.className = "conf"; conf.textContent = `${Math.round(c.confidence * 100)}%`;
    const src = document.createElement("span");
    src.className = "src";
    src.textContent = sourceName(c.source) + (c.known ? "" : ` · ${section.dataset.unknown}`);
    src.title = c.sources.concat(c.alternatives || [])
      .map((s) => `${sourceName(s.source)}: ${s.label} ${Math.round(s.confidence * 100)}%`).join("\n");
    const sync = () => { li.classList.toggle("off", !box.checked); drawBoxes(); };
    box.addEventListener("change", sync); name.addEventListener("input", drawBoxes);
    li.append(box, name, qty);
    if (c.unit) {
      const unit = document.createElement("span");
      unit.className = "unit"; unit.textContent = c.unit;
      li.append(unit);
    }
    li.append(conf, src);
    li.classList.toggle("off", !box.checked);
    return li;
  }

  async function show(id) {
    recognition = await Boda.api(`/api/v1/pantry/recognitions/${id}`);
    chips.replaceChildren(...recognition.candidates.map(chip));
    img.src = `/api/v1/files/${recognition.file_id}/content`;
    result.hidden = false;
    add.hidden = !recognition.candidates.length;
    if (!recognition.candidates.length) say(errorBox, section.dataset.nothing);
    const failed = Object.keys(recognition.errors || {});
    if (failed.length) say(done, `${section.dataset.failed}: ${failed.map(sourceName).join(", ")}`);
    drawBoxes();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(errorBox, ""); say(done, ""); result.hidden = true; recognition = null;
    const receipt = form.elements.receipt.checked;
    const body = new FormData();
    body.append("file", form.elements.file.files[0]);
    body.append("household_id", section.dataset.household);
    job.hidden = false;
    try {
      const url = receipt ? "/api/v1/pantry/receipts" : "/api/v1/pantry/recognitions";
      const started = await Boda.api(url, { method: "POST", body });
      Boda.showState(job, started);
      Boda.watchJob(started.id, job, async (final) => {
        if (final.status === "succeeded") await show(started.id).catch((err) => say(errorBox, err.message));
        else say(errorBox, final.error || final.message || section.dataset.failed);
      });
    } catch (err) {
      job.hidden = true;
      say(errorBox, err.message);
    }
  });

  add.addEventListener("click", async () => {
    if (!recognition) return;
    const items = [...chips.querySelectorAll("li")].filter((li) => li.querySelector("input[type=checkbox]").checked)
      .map((li) => ({ name: li.querySelector("input[type=text]").value.trim(),
                      quantity: Number(li.querySelector("input[type=number]").value) || 1,
                      unit: li.dataset.unit || "",
                      // which candidate it was, kept or renamed: its boxes teach the household's classifier
                      candidate: Number(li.dataset.index) }))
      .filter((item) => item.name);
    if (!items.length) { say(errorBox, section.dataset.noneKept); return; }
    add.disabled = true;
    try {
      await Boda.api(`/api/v1/pantry/recognitions/${recognition.id}/confirm`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ items }) });
      say(done, section.dataset.confirmDone.replace("{n}", items.length));
      result.hidden = true; job.hidden = true; form.reset();
      const fridge = document.getElementById("fridge");
      if (fridge && window.htmx) {
        htmx.ajax("GET", `/pantry?tab=fridge&household_id=${encodeURIComponent(section.dataset.household)}`,
                  { target: "#fridge", select: "#fridge", swap: "outerHTML" });
      }
    } catch (err) {
      say(errorBox, err.message);
    } finally {
      add.disabled = false;
    }
  });
})();
