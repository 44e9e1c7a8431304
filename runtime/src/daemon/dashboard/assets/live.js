// Cairn's dashboard: reloads the page's content when the daemon says a
// tenant's status changed (server-sent events from /ui/events). The page
// works without this script; with it, an open page stays current without
// being reloaded by hand. No library, no build step.
"use strict";
(function () {
  const scope = document.body.dataset.live;
  if (!scope || !window.EventSource || !window.fetch) return;
  const url = "/ui/events" + (scope === "*" ? "" : "?tenant=" + encodeURIComponent(scope));
  let pending = null;
  let busy = false;

  // Fetches the page again and swaps its <main>, unless the reader is
  // typing in it (then on the next change).
  async function refresh() {
    pending = null;
    // A change during a refresh is fetched after it.
    if (busy) {
      soon();
      return;
    }
    const main = document.querySelector("main");
    if (!main) return;
    const active = document.activeElement;
    if (active && main.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) return;
    busy = true;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok || response.redirected) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.querySelector("main");
      if (!fresh) return;
      main.replaceWith(fresh);
      document.title = page.title;
      if (page.body.dataset.seen) document.body.dataset.seen = page.body.dataset.seen;
      const note = fresh.querySelector(".live-note");
      if (note) note.textContent = "Updated " + new Date().toLocaleTimeString();
    } catch (error) {
      // The next change tries again.
    } finally {
      busy = false;
    }
  }

  // Changes that come together are one refresh.
  function soon() {
    if (pending === null) pending = window.setTimeout(refresh, 250);
  }

  const source = new EventSource(url);
  // On (re)connecting: a change between the page's rendering and now was
  // not heard, but counted.
  source.addEventListener("hello", function (event) {
    if (event.data !== document.body.dataset.seen) soon();
  });
  source.addEventListener("change", soon);
})();
