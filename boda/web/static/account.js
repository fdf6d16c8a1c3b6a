// The account page: change one's password, revoke API tokens (through the JSON API).
(function () {
  const { api } = window.Boda;

  function show(id, text) {
    const box = document.getElementById(id);
    box.textContent = text;
    box.hidden = false;
  }

  const passwordForm = document.getElementById("password-form");
  passwordForm?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(passwordForm);
    const repeat = passwordForm.elements.repeat;
    const result = document.getElementById("password-result");
    result.className = "alert error";
    if (data.get("new_password") !== data.get("repeat")) { show("password-result", repeat.dataset.mismatch); return; }
    const body = { current_password: data.get("current_password"), new_password: data.get("new_password") };
    try {
      await api("/api/v1/users/me/password",
                { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      passwordForm.reset();
      result.className = "alert";
      show("password-result", result.dataset.done);
    } catch (err) { show("password-result", err.message); }
  });

  document.addEventListener("click", async (e) => {
    const button = e.target.closest?.("[data-revoke]");
    if (!button) return;
    if (!window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      await api(`/api/v1/tokens/${button.dataset.revoke}`, { method: "DELETE" });
      button.closest("tr").remove();
    } catch (err) { show("token-error", err.message); button.disabled = false; }
  });
})();
