// Session and display preferences live in sessionStorage only: closing the tab forgets them,
// and nothing about the chat stays on a shared device (DV safety). Storage can be blocked
// (private modes, third-party frames): then the widget simply does not resume.

const SESSION_KEY = "tsunagu.chat.session";
const PREFS_KEY = "tsunagu.chat.prefs";

function read(key) {
  try {
    return JSON.parse(window.sessionStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    window.sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage unavailable: the chat still works, it just cannot resume after a reload.
  }
}

/** The saved session if its resume window has not passed. */
export function loadSession() {
  const saved = read(SESSION_KEY);
  if (!saved || typeof saved.token !== "string" || typeof saved.resumeUntil !== "string") {
    return null;
  }
  return Date.parse(saved.resumeUntil) > Date.now() ? saved : null;
}

export function saveSession(token, resumeUntil) {
  write(SESSION_KEY, { token, resumeUntil });
}

export function forgetSession() {
  try {
    window.sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // Nothing stored.
  }
}

export function loadPrefs() {
  const prefs = read(PREFS_KEY);
  return prefs && typeof prefs === "object" ? prefs : {};
}

export function savePrefs(prefs) {
  write(PREFS_KEY, { ...loadPrefs(), ...prefs });
}

/** Removes everything the widget stored in this tab. */
export function forgetAll() {
  try {
    window.sessionStorage.clear();
  } catch {
    // Nothing stored.
  }
}
