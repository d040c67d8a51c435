// faxout console: what every page shares. No framework, no build step; every page works
// without this script, which only adds live updates and conveniences.
"use strict";
(function () {
  const body = document.body;
  const csrf = () => body.dataset.csrf || "";

  // Times are shown in the browser's zone: the server reads it from this cookie.
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const had = (document.cookie.match(/(?:^|; )faxout_tz=([^;]*)/) || [])[1];
    if (zone && decodeURIComponent(had || "") !== zone) {
      document.cookie = "faxout_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* an old browser: times stay in the account's zone */ }

  // A request from a page script: same origin, the CSRF token in a header.
  function request(method, url, bodyData, extra) {
    const headers = Object.assign({ "X-CSRF-Token": csrf(), "X-Requested-With": "fetch" }, extra || {});
    let payload = bodyData;
    if (bodyData && !(bodyData instanceof FormData) && typeof bodyData !== "string") {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(bodyData);
    }
    return fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  }

  function signedOut() {
    if (document.getElementById("signed-out")) return;
    const note = document.createElement("div");
    note.id = "signed-out";
    note.className = "flash error";
    note.setAttribute("role", "alert");
    note.innerHTML = 'Your session has ended. <a href="/login?next=' +
      encodeURIComponent(location.pathname + location.search) + '">Sign in again</a>.';
    const main = document.getElementById("main");
    main.insertBefore(note, main.firstChild);
  }

  // A message shown once (after an action) survives the page's own reload a moment later.
  function keepFlash() {
    const flash = document.querySelector("main > .flash");
    if (flash) sessionStorage.setItem("faxout:flash", JSON.stringify({ path: location.pathname, kind: flash.className, text: flash.textContent }));
  }
  try {
    const kept = JSON.parse(sessionStorage.getItem("faxout:flash") || "null");
    sessionStorage.removeItem("faxout:flash");
    const main = document.getElementById("main");
    if (kept && kept.path === location.pathname && main && !main.querySelector(":scope > .flash")) {
      const note = document.createElement("div");
      note.className = kept.kind;
      note.setAttribute("role", "status");
      note.textContent = kept.text;
      main.insertBefore(note, main.firstChild);
    }
  } catch (e) { /* no session storage: the message was seen once */ }

  function typing() {
    const active = document.activeElement;
    if (active && active.matches("input, textarea, select")) return true;
    return Array.from(document.querySelectorAll("main textarea, main input[type=text], main input[type=file]"))
      .some((field) => field.value.trim() !== "");
  }

  // Once a form is on its way (Cancel, Retry...), the page is leaving: a live answer must not
  // reload it then, or the reload would abort the form's navigation and lose its message.
  let leaving = false;
  document.addEventListener("submit", (event) => {
    if (!event.defaultPrevented && event.target.getAttribute("method") !== "dialog") leaving = true;
  });

  // Live regions: an element with data-live="/url" is refreshed from that URL while visible,
  // until its content holds an element with data-live-stop (nothing will change any more).
  function follow(el) {
    const every = parseInt(body.dataset.pollMs || "2000", 10);
    let wait = every, timer = null, last = el.innerHTML;
    const stopped = () => el.querySelector("[data-live-stop]") !== null;
    async function tick() {
      timer = null;
      if (leaving || document.visibilityState !== "visible" || stopped()) return;
      try {
        const answer = await fetch(el.dataset.live, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
        if (answer.status === 401) { signedOut(); return; }
        if (answer.ok) {
          const html = await answer.text();
          if (leaving) return;
          if (html !== last) {
            el.innerHTML = html;
            last = html;
            el.dispatchEvent(new CustomEvent("faxout:updated", { bubbles: true }));
            // A change beyond the live part (pages rendered, the fax finished): the whole
            // page again, unless the user is typing into one of its forms.
            if (el.querySelector("[data-live-reload]") && !typing()) { keepFlash(); location.reload(); return; }
          }
          wait = every;
        } else {
          wait = Math.min(wait * 2, 60000);
        }
      } catch (e) {
        wait = Math.min(wait * 2, 60000); // the server restarts: ask less often meanwhile
      }
      schedule();
    }
    function schedule() { if (!timer && !stopped()) timer = setTimeout(tick, wait); }
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") { wait = every; schedule(); } });
    schedule();
  }
  document.querySelectorAll("[data-live]").forEach(follow);

  // Buttons that ask first: <button data-confirm="Cancel this fax?">.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });

  // Copy buttons: <button data-copy="#id"> copies that element's text.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    } catch (e) {
      window.getSelection().selectAllChildren(source); // no clipboard access: select it instead
    }
  });

  window.faxout = { csrf, request, signedOut };
})();
