// The Send page's conveniences: documents dropped or chosen into a list, numbers checked as
// typed, the cover page and the pages previewed, the form sent with a progress bar. Without
// this script the form posts as it is and the server answers with the same checks.
"use strict";
// console.js (window.faxout) runs after this deferred script: start once both have run.
document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("send-form");
  if (!form || !window.faxout) return;
  const $ = (id) => document.getElementById(id);
  const request = window.faxout.request;
  const input = $("document"), list = $("file-list"), zone = $("dropzone");
  const recipients = $("recipients"), checks = $("number-checks");
  let chosen = [];

  document.querySelectorAll(".js-only").forEach((el) => { el.hidden = false; });
  form.classList.add("scripted");

  // The browser's own zone, when the select has it (the server's default is the account's).
  try {
    const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const select = $("time_zone");
    if (mine && !form.dataset.zoneKept && [...select.options].some((o) => o.value === mine)) select.value = mine;
  } catch (e) { /* the server's default stays */ }

  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(0) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  // The input mirrors the list, so a plain submit (the script failing later) sends them too.
  function syncInput() {
    try {
      const dt = new DataTransfer();
      chosen.forEach((f) => dt.items.add(f));
      input.files = dt.files;
    } catch (e) { /* an old browser: the list is sent by the script only */ }
  }

  function showFiles() {
    list.replaceChildren();
    chosen.forEach((file, i) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = file.name;
      const bytes = document.createElement("span");
      bytes.className = "muted small";
      bytes.textContent = size(file.size);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove " + file.name);
      remove.addEventListener("click", () => { chosen.splice(i, 1); syncInput(); showFiles(); });
      li.append(name, bytes, remove);
      list.append(li);
    });
    clearError("document");
  }

  function add(files) {
    for (const f of files) {
      if (!chosen.some((c) => c.name === f.name && c.size === f.size && c.lastModified === f.lastModified)) chosen.push(f);
    }
    syncInput();
    showFiles();
  }
  input.addEventListener("change", () => add([...input.files]));
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (e) => { e.preventDefault(); if (e.dataTransfer) add([...e.dataTransfer.files]); });

  // Errors beside their field.
  function clearError(field) {
    const el = document.querySelector('[data-error-for="' + field + '"]');
    if (el) { el.hidden = true; el.textContent = ""; }
    const target = form.elements[field];
    if (target && target.removeAttribute) target.removeAttribute("aria-invalid");
  }
  function showError(field, text) {
    const el = field ? document.querySelector('[data-error-for="' + field + '"]') : $("form-error");
    const shown = el || $("form-error");
    shown.textContent = text;
    shown.hidden = false;
    const target = field && form.elements[field];
    if (target && target.setAttribute) { target.setAttribute("aria-invalid", "true"); if (target.focus) target.focus(); }
    else shown.scrollIntoView({ block: "center" });
  }
  function clearAll() {
    document.querySelectorAll("[data-error-for]").forEach((el) => { el.hidden = true; });
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  }

  function debounce(fn, ms) {
    let t = null;
    return () => { clearTimeout(t); t = setTimeout(fn, ms); };
  }

  // Numbers, checked as typed: each line normalised, or why it is refused.
  let asked = 0;
  const check = debounce(async () => {
    const mine = ++asked;
    const text = recipients.value;
    if (!text.trim()) { checks.replaceChildren(); return; }
    try {
      const answer = await request("POST", form.dataset.numbers, { text });
      if (answer.status === 401) { window.faxout.signedOut(); return; }
      if (!answer.ok || mine !== asked) return;
      const data = await answer.json();
      checks.replaceChildren();
      data.checks.forEach((c) => {
        const li = document.createElement("li");
        li.className = c.ok ? "ok" : "bad";
        const where = document.createElement("span");
        where.className = "line muted small";
        where.textContent = "line " + c.line;
        const what = document.createElement("span");
        what.className = "what";
        what.textContent = c.ok ? (c.shown + (c.name ? " · " + c.name : "")) : (c.text + ": " + c.reason);
        li.append(where, what);
        if (c.note) {
          const note = document.createElement("span");
          note.className = "note muted small";
          note.textContent = c.note;
          li.append(note);
        }
        checks.append(li);
      });
      const bad = data.checks.filter((c) => !c.ok).length;
      if (data.checks.length > data.most) {
        const li = document.createElement("li");
        li.className = "bad";
        li.textContent = "At most " + data.most + " recipients, not " + data.checks.length + ".";
        checks.append(li);
      }
      recipients.toggleAttribute("aria-invalid", bad > 0);
      coverSoon();
    } catch (e) { /* offline a moment: the server checks again on sending */ }
  }, 400);
  recipients.addEventListener("input", () => { clearError("recipients"); check(); });
  if (recipients.value.trim()) check();

  // The address-book picker: a contact adds its line, a group every member's.
  const picker = $("picker"), pickQ = $("pick-q"), picked = $("pick-results");
  function addLines(lines) {
    const have = recipients.value.replace(/\s+$/, "");
    recipients.value = (have ? have + "\n" : "") + lines.join("\n");
    recipients.dispatchEvent(new Event("input"));
  }
  function choice(label, detail, onPick) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = label;
    const small = document.createElement("span");
    small.className = "small muted";
    small.textContent = " " + detail;
    button.addEventListener("click", onPick);
    li.append(button, small);
    picked.append(li);
  }
  const find = debounce(async () => {
    const answer = await fetch("/contacts.json?q=" + encodeURIComponent(pickQ.value), { headers: { "X-Requested-With": "fetch" } });
    if (answer.status === 401) { window.faxout.signedOut(); return; }
    if (!answer.ok) return;
    const data = await answer.json();
    picked.replaceChildren();
    data.groups.forEach((g) => choice("Group " + g.name, g.members + " members", async () => {
      const members = await fetch("/contacts.json?group=" + g.id, { headers: { "X-Requested-With": "fetch" } });
      if (members.ok) addLines((await members.json()).lines);
    }));
    data.contacts.forEach((c) => choice(c.name, c.number + (c.company ? " · " + c.company : ""), () => addLines([c.number + "|" + c.name])));
    if (!picked.children.length) {
      const li = document.createElement("li");
      li.className = "muted small";
      li.textContent = "Nothing in the address book matches.";
      picked.append(li);
    }
  }, 200);
  if (picker) {
    picker.hidden = false;
    picker.addEventListener("toggle", () => { if (picker.open) { find(); pickQ.focus(); } });
    pickQ.addEventListener("input", find);
  }

  // The cover page, drawn by the fax renderer for the first recipient.
  const figure = $("cover-figure"), image = $("cover-image"), coverStatus = $("cover-status");
  let coverAsked = 0, coverUrl = null;
  const cover = async () => {
    const mine = ++coverAsked;
    const choice = form.elements.cover_page.value;
    if (choice.toLowerCase() === "none") { figure.hidden = true; return; }
    figure.hidden = false;
    if (!coverUrl) image.hidden = true; // no broken-image icon before the first drawing
    coverStatus.textContent = "Drawing the cover page…";
    try {
      const answer = await request("POST", form.dataset.cover, {
        cover_page: choice, cover_text: form.elements.cover_text.value,
        recipients: recipients.value, resolution: form.elements.resolution.value,
      });
      if (mine !== coverAsked) return;
      if (answer.status === 204) { figure.hidden = true; return; }
      if (!answer.ok) {
        const data = await answer.json().catch(() => ({}));
        coverStatus.textContent = data.error || "The cover page could not be drawn.";
        return;
      }
      const blob = await answer.blob();
      if (coverUrl) URL.revokeObjectURL(coverUrl);
      coverUrl = URL.createObjectURL(blob);
      image.onload = () => { image.hidden = false; };
      image.src = coverUrl;
      coverStatus.textContent = "Cover page preview";
    } catch (e) { coverStatus.textContent = "The cover page could not be drawn."; }
  };
  const coverSoon = debounce(cover, 700);
  form.elements.cover_page.addEventListener("change", cover);
  form.elements.cover_text.addEventListener("input", coverSoon);
  form.querySelectorAll('input[name="resolution"]').forEach((r) => r.addEventListener("change", coverSoon));
  cover();

  // The form's data with the listed documents (in their order).
  function formData() {
    const data = new FormData(form);
    data.delete("document");
    chosen.forEach((f) => data.append("document", f, f.name));
    return data;
  }

  // Uploads with progress; resolves to { status, data }.
  function upload(url, data, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", window.faxout.csrf());
      xhr.setRequestHeader("X-Requested-With", "fetch");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
      xhr.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = { error: "The server answered " + xhr.status + "." }; }
        resolve({ status: xhr.status, data: body });
      });
      xhr.addEventListener("error", () => reject(new Error("The upload failed: check the connection and try again.")));
      xhr.send(data);
    });
  }

  const bar = $("upload"), progress = $("upload-progress"), progressText = $("upload-text");
  function progressTo(label) {
    bar.hidden = false;
    return (part) => {
      progress.value = Math.round(part * 100);
      progressText.textContent = part < 1 ? label + " " + Math.round(part * 100) + " %" : "Processing…";
    };
  }

  const sendButton = $("send-button"), previewButton = $("preview-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearAll();
    if (!chosen.length) { showError("document", "Choose at least one document."); return; }
    sendButton.disabled = previewButton.disabled = true;
    try {
      const answer = await upload(form.action, formData(), progressTo("Uploading"));
      if ((answer.status === 201 || answer.status === 200) && answer.data.location) { location.assign(answer.data.location); return; }
      if (answer.status === 401) { window.faxout.signedOut(); return; }
      showError(answer.data.field || "", answer.data.error || "The fax could not be sent.");
    } catch (e) {
      showError("", e.message);
    }
    bar.hidden = true;
    sendButton.disabled = previewButton.disabled = false;
  });

  // The pages as the first recipient gets them; a thumbnail opens the page full size.
  const pages = $("pages-preview"), thumbs = $("thumbs"), pagesStatus = $("pages-status");
  const dialog = $("page-dialog"), full = $("page-full");
  previewButton.addEventListener("click", async () => {
    clearAll();
    if (!chosen.length) { showError("document", "Choose at least one document."); return; }
    previewButton.disabled = true;
    pages.hidden = false;
    thumbs.replaceChildren();
    pagesStatus.textContent = "Rendering the pages…";
    try {
      const answer = await upload(form.dataset.preview, formData(), progressTo("Uploading"));
      bar.hidden = true;
      if (answer.status === 401) { window.faxout.signedOut(); return; }
      if (answer.status !== 200) {
        pagesStatus.textContent = "";
        pages.hidden = true;
        showError(answer.data.field || "", answer.data.error || "The pages could not be previewed.");
        return;
      }
      const data = answer.data;
      pagesStatus.textContent = data.pages + (data.pages === 1 ? " page" : " pages") +
        (data.warnings.length ? ". " + data.warnings.join(" ") : "") + " · click a page to see it full size";
      data.images.forEach((src, i) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "thumb";
        button.setAttribute("aria-label", "Page " + (i + 1) + ", full size");
        const img = document.createElement("img");
        img.src = src + "?width=240";
        img.alt = "Page " + (i + 1);
        img.loading = "lazy";
        const n = document.createElement("span");
        n.className = "small muted";
        const withCover = form.elements.cover_page.value.toLowerCase() !== "none";
        n.textContent = "Page " + (i + 1) + (i === 0 && withCover ? " · cover" : "");
        button.append(img, n);
        button.addEventListener("click", () => {
          full.src = src;
          full.alt = "Page " + (i + 1);
          if (dialog.showModal) dialog.showModal(); else window.open(src);
        });
        li.append(button);
        thumbs.append(li);
      });
    } catch (e) {
      bar.hidden = true;
      pagesStatus.textContent = e.message;
    } finally {
      previewButton.disabled = false;
    }
  });
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
});
