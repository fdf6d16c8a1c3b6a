// Share an anonymised photo: a "Share" button on each result opens #share-dialog, which PATCHes
// /api/v1/files/{id} with {visibility, household_id} and shows the link for unlisted and public photos.
(function () {
  const FILE_URL = /^\/api\/v1\/files\/([^/?#]+)\/content/;
  let current = null;  // the file id the dialog is showing

  const dialog = () => document.getElementById("share-dialog");
  const form = () => document.getElementById("share-form");

  function fileId(img) {
    const match = FILE_URL.exec(new URL(img.src, window.location.origin).pathname);
    return match ? match[1] : null;
  }

  // Only anonymised copies get a button: the originals stay private.
  function addButtons(root) {
    root.querySelectorAll?.('img[data-testid="anonymized"], .thumb[data-anonymization] img').forEach((img) => {
      if (img.dataset.shareReady || !img.src) return;
      const id = fileId(img);
      if (!id) return;
      img.dataset.shareReady = "1";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link share-open";
      button.dataset.shareFile = id;
      button.textContent = dialog().dataset.shareLabel;
      const holder = img.closest(".thumb") || img.closest("figure") || img.parentElement;
      holder.appendChild(button);
    });
  }

  function show(file) {
    const f = form();
    f.elements.visibility.value = file.visibility;
    if (file.household_id) f.elements.household_id.value = file.household_id;
    document.getElementById("share-household-field").hidden = file.visibility !== "household";
    const link = file.visibility === "unlisted" ? file.share_url : file.visibility === "public" ? file.url : null;
    document.getElementById("share-link-field").hidden = !link;
    f.elements.link.value = link ? new URL(link, window.location.origin).href : "";
  }

  function error(err) {
    const box = document.getElementById("share-error");
    box.textContent = err ? err.message : "";
    box.hidden = !err;
  }

  async function open(id) {
    current = id;
    error(null);
    document.getElementById("share-status").textContent = "";
    try {
      show(await Boda.api(`/api/v1/files/${id}`));
      dialog().showModal();
    } catch (err) { alert(err.message); }
  }

  async function save() {
    const f = form();
    const visibility = f.elements.visibility.value;
    const body = { visibility, household_id: visibility === "household" ? f.elements.household_id.value : null };
    error(null);
    try {
      const file = await Boda.api(`/api/v1/files/${current}`, {
        method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
      });
      show(file);
      document.getElementById("share-status").textContent = dialog().dataset.saved;
    } catch (err) { error(err); }
  }

  async function copy(button) {
    const input = form().elements.link;
    try { await navigator.clipboard.writeText(input.value); } catch (err) { input.select(); return; }
    const label = button.textContent;
    button.textContent = dialog().dataset.copied;
    setTimeout(() => { button.textContent = label; }, 1500);
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!dialog()) return;
    addButtons(document);
    // Results appear later (one photo, or a batch's items): give them buttons as they come.
    new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
      if (n.nodeType === 1) addButtons(n.parentElement || n);
    }))).observe(document.querySelector("main") || document.body, { childList: true, subtree: true });
    document.addEventListener("load", (e) => { if (e.target.tagName === "IMG") addButtons(e.target.parentElement); }, true);
    document.addEventListener("click", (e) => {
      const opener = e.target.closest?.("[data-share-file]");
      if (opener) { open(opener.dataset.shareFile); return; }
      if (e.target.id === "share-save") save();
      if (e.target.id === "share-copy") copy(e.target);
    });
    form().addEventListener("change", (e) => {
      if (e.target.name === "visibility") {
        document.getElementById("share-household-field").hidden = e.target.value !== "household";
      }
    });
  });
})();
