// Households on /account and the /invite/{code} page: every change goes through the JSON API.
(function () {
  const { api } = window.Boda;
  const json = (body) => ({ headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  function showError(err) {
    const box = document.getElementById("household-error");
    if (!box) { alert(err.message); return; }
    box.textContent = err.message;
    box.hidden = false;
  }

  async function copy(section, button) {
    const input = section.querySelector('[data-role="link"]');
    try {
      await navigator.clipboard.writeText(input.value);
    } catch (err) {  // no clipboard permission (or plain http): select it for Ctrl+C
      input.select();
      return;
    }
    const label = button.textContent;
    button.textContent = button.dataset.copied;
    setTimeout(() => { button.textContent = label; }, 1500);
  }

  const actions = {
    async invite(id, section) {
      const made = await api(`/api/v1/households/${id}/invites`, Object.assign({ method: "POST" }, json({})));
      const box = section.querySelector(".invite-link");
      box.querySelector('[data-role="link"]').value = new URL(made.url, window.location.origin).href;
      box.hidden = false;
      return false;  // stay: the link is shown once
    },
    leave: (id) => api(`/api/v1/households/${id}/leave`, { method: "POST" }),
    delete: (id) => api(`/api/v1/households/${id}`, { method: "DELETE" }),
    remove: (id, section, button) => api(`/api/v1/households/${id}/members/${button.dataset.member}`,
                                         { method: "DELETE" }),
    transfer: (id, section, button) => api(`/api/v1/households/${id}/transfer`,
                                           Object.assign({ method: "POST" }, json({ user_id: button.dataset.member }))),
  };

  document.addEventListener("click", async (e) => {
    const button = e.target.closest?.("[data-hh-action]");
    if (!button) return;
    const section = button.closest("[data-household]");
    const action = button.dataset.hhAction;
    if (action === "copy") { copy(section, button); return; }
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const stay = await actions[action](section.dataset.household, section, button);
      if (stay !== false) window.location.reload();
    } catch (err) { showError(err); } finally { button.disabled = false; }
  });

  document.getElementById("household-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = new FormData(e.target).get("name");
    try {
      await api("/api/v1/households", Object.assign({ method: "POST" }, json({ name })));
      window.location.reload();
    } catch (err) { showError(err); }
  });

  document.addEventListener("click", async (e) => {
    const button = e.target.closest?.("[data-invite-action]");
    if (!button) return;
    const code = document.getElementById("invite").dataset.code;
    const answer = button.dataset.inviteAction;
    button.disabled = true;
    try {
      await api(`/api/v1/invites/${encodeURIComponent(code)}/${answer}`, { method: "POST" });
      if (answer === "accept") { window.location.assign("/account#households"); return; }
      document.querySelectorAll("[data-invite-action]").forEach((b) => b.remove());
      document.getElementById("invite-declined").hidden = false;
    } catch (err) { showError(err); button.disabled = false; }
  });
})();
