// Tsunagu embed: <script src="https://<tsunagu host>/chat/embed.js" async></script> adds a
// floating 「相談する」 button that opens the chat widget in an iframe. Styles are set through
// the CSSOM (allowed under a strict style-src), and nothing is loaded from anywhere but the
// Tsunagu host. Optional: data-lang="en" on the script tag (default: the page's lang).
(() => {
  "use strict";
  const TEXTS = {{ texts | tojson }};
  const EXIT_PATH = {{ quick_exit_url | tojson }};
  const ESC_WINDOW_MS = 1500;
  const script = document.currentScript;
  if (!script || window.__tsunaguEmbed) {
    return;
  }
  window.__tsunaguEmbed = true;
  const chatUrl = new URL("../chat", new URL(".", script.src));
  const origin = chatUrl.origin;
  const exitUrl = new URL(EXIT_PATH, origin).href;
  const langSource = script.dataset.lang || document.documentElement.lang || "ja";
  const lang = langSource.toLowerCase().startsWith("en") ? "en" : "ja";
  const t = TEXTS[lang];

  function css(element, styles) {
    for (const [name, value] of Object.entries(styles)) {
      element.style.setProperty(name, value);
    }
    return element;
  }

  const buttonStyles = {
    "min-height": "48px",
    "min-width": "48px",
    padding: "12px 20px",
    border: "3px solid #ffffff",
    "border-radius": "999px",
    background: "#0b4f8a",
    color: "#ffffff",
    font: "700 18px/1.4 system-ui, sans-serif",
    cursor: "pointer",
    "box-shadow": "0 2px 8px rgba(0, 0, 0, 0.35)",
  };

  const opener = css(document.createElement("button"), {
    ...buttonStyles,
    position: "fixed",
    right: "16px",
    bottom: "16px",
    "z-index": "2147483000",
  });
  opener.type = "button";
  opener.id = "tsunagu-open";
  opener.textContent = t.embed_open;
  opener.lang = lang;
  opener.setAttribute("aria-expanded", "false");

  let panel = null;

  function leave() {
    document.body.replaceChildren();
    window.location.replace(exitUrl);
  }

  function buildPanel() {
    panel = css(document.createElement("div"), {
      position: "fixed",
      right: "16px",
      bottom: "88px",
      width: "min(28rem, calc(100vw - 32px))",
      height: "min(42rem, calc(100vh - 112px))",
      display: "flex",
      "flex-direction": "column",
      background: "#ffffff",
      border: "2px solid #0b4f8a",
      "border-radius": "12px",
      "box-shadow": "0 4px 24px rgba(0, 0, 0, 0.35)",
      overflow: "hidden",
      "z-index": "2147483000",
    });
    panel.id = "tsunagu-panel";
    panel.setAttribute("role", "region");
    panel.setAttribute("aria-label", t.embed_frame_title);
    panel.lang = lang;
    const close = css(document.createElement("button"), {
      ...buttonStyles,
      "align-self": "flex-end",
      margin: "6px",
      "border-color": "#0b4f8a",
      "box-shadow": "none",
    });
    close.type = "button";
    close.textContent = t.embed_close;
    close.addEventListener("click", () => {
      panel.hidden = true;
      panel.style.setProperty("display", "none");
      opener.setAttribute("aria-expanded", "false");
      opener.focus();
    });
    const frame = css(document.createElement("iframe"), {
      flex: "1",
      width: "100%",
      border: "0",
    });
    frame.id = "tsunagu-frame";
    frame.title = t.embed_frame_title;
    frame.referrerPolicy = "no-referrer";
    frame.src = `${chatUrl.href}?embed=true&lang=${lang}`;
    panel.append(close, frame);
    opener.setAttribute("aria-controls", panel.id);
    document.body.append(panel);
  }

  opener.addEventListener("click", () => {
    if (!panel) {
      buildPanel();
    }
    panel.hidden = false;
    panel.style.setProperty("display", "flex");
    opener.setAttribute("aria-expanded", "true");
    panel.querySelector("iframe").focus();
  });

  // The widget asks us to leave: replace the whole host page, not just the frame.
  window.addEventListener("message", (event) => {
    if (event.origin === origin && event.data && event.data.type === "tsunagu:quick-exit") {
      leave();
    }
  });

  // Esc twice on the host page while the chat is open leaves too.
  let lastEscape = 0;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !panel || panel.hidden) {
      return;
    }
    const now = Date.now();
    if (now - lastEscape < ESC_WINDOW_MS) {
      leave();
    }
    lastEscape = now;
  });

  function mount() {
    document.body.append(opener);
  }
  if (document.body) {
    mount();
  } else {
    document.addEventListener("DOMContentLoaded", mount);
  }
})();
