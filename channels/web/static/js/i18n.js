// Interface texts come from /chat/static/i18n/<lang>.json (never written into this code).
// The server renders the first language; switching fetches the other file.

const cache = new Map();

export async function loadTexts(base, lang) {
  if (!cache.has(lang)) {
    const response = await fetch(`${base}${lang}.json`, { credentials: "same-origin" });
    if (!response.ok) {
      throw new Error(`texts ${lang}: HTTP ${response.status}`);
    }
    cache.set(lang, await response.json());
  }
  return cache.get(lang);
}

/** Puts `texts` into every element marked with data-i18n / data-i18n-aria-label. */
export function applyTexts(texts) {
  document.documentElement.lang = texts.lang;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    const value = texts[element.dataset.i18n];
    if (typeof value === "string") {
      element.textContent = value;
    }
  }
  for (const element of document.querySelectorAll("[data-i18n-aria-label]")) {
    const value = texts[element.dataset.i18nAriaLabel];
    if (typeof value === "string") {
      element.setAttribute("aria-label", value);
    }
  }
  const toggle = document.getElementById("lang-toggle");
  if (toggle) {
    toggle.lang = texts.language_toggle_lang;
  }
}

/** Fills {name} placeholders. */
export function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (match, name) =>
    Object.hasOwn(values, name) ? String(values[name]) : match,
  );
}
