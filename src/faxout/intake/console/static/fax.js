// faxout console: a fax's page. Without this script every thumbnail is a link to the page's
// full-size PNG and the recipient choice has a Show button; with it, a thumbnail opens the page
// in a <dialog> (Escape closes it, the arrow keys turn pages) and the choice applies at once.
"use strict";
(function () {
  const dialog = document.getElementById("page-viewer");
  const thumbs = Array.from(document.querySelectorAll("#thumbs a[data-page]"));

  // The recipient whose pages are shown: a change reloads the page for it.
  document.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });

  if (!dialog || !thumbs.length || typeof dialog.showModal !== "function") return;
  const img = dialog.querySelector("[data-pv=img]");
  const title = dialog.querySelector(".pv-title");
  const open = dialog.querySelector("[data-pv=open]");
  const prev = dialog.querySelector("[data-pv=prev]");
  const next = dialog.querySelector("[data-pv=next]");
  let at = 0, opener = null;

  function show(index) {
    at = Math.max(0, Math.min(thumbs.length - 1, index));
    const link = thumbs[at];
    img.src = link.href;
    img.alt = link.querySelector("img").alt;
    title.textContent = "Page " + link.dataset.page + " of " + link.dataset.of;
    open.href = link.href;
    prev.disabled = at === 0;
    next.disabled = at === thumbs.length - 1;
  }

  thumbs.forEach((link, index) => {
    link.addEventListener("click", (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return; // a new tab
      event.preventDefault();
      opener = link;
      show(index);
      dialog.showModal();
    });
  });
  prev.addEventListener("click", () => show(at - 1));
  next.addEventListener("click", () => show(at + 1));
  dialog.querySelector("[data-pv=close]").addEventListener("click", () => dialog.close());
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft") { show(at - 1); event.preventDefault(); }
    if (event.key === "ArrowRight") { show(at + 1); event.preventDefault(); }
  });
  dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => {
    img.removeAttribute("src");
    if (opener) opener.focus(); // back where the reader was
  });
})();
