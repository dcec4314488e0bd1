// 「すぐに閉じる」: replace this page with a neutral one, leaving no history entry, on a click
// or on Esc pressed twice. Installed before anything else so it works even if the chat fails.

const ESC_WINDOW_MS = 1500;

export function installQuickExit({ url, embedded, beforeExit }) {
  const target = new URL(url, window.location.href).href;
  let exiting = false;

  function exit() {
    if (exiting) {
      return;
    }
    exiting = true;
    try {
      beforeExit?.();
    } catch {
      // Leaving matters more than tidying up.
    }
    try {
      window.sessionStorage.clear();
    } catch {
      // Nothing stored.
    }
    // Nothing readable stays on screen while the next page loads.
    document.title = "";
    document.body.replaceChildren();
    if (embedded && window.parent !== window) {
      // embed.js on the host page replaces the whole page, not just this frame.
      window.parent.postMessage({ type: "tsunagu:quick-exit", url: target }, "*");
    }
    window.location.replace(target);
  }

  document.getElementById("quick-exit")?.addEventListener("click", (event) => {
    event.preventDefault();
    exit();
  });

  let lastEscape = 0;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") {
      return;
    }
    const now = Date.now();
    if (now - lastEscape < ESC_WINDOW_MS) {
      exit();
    }
    lastEscape = now;
  });
  return exit;
}
