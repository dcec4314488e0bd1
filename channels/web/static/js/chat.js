// The chat widget: session start or resume, messages, quick replies, language and text size.

import { applyTexts, format, loadTexts } from "./i18n.js";
import { installQuickExit } from "./quick-exit.js";
import {
  forgetSession,
  loadPrefs,
  loadSession,
  savePrefs,
  saveSession,
} from "./store.js";
import { Transport } from "./transport.js";

const MAX_CHARS = 2000;
const root = document.documentElement;
const config = {
  quickExitUrl: root.dataset.quickExitUrl,
  embedded: root.dataset.embedded === "true",
  i18nBase: root.dataset.i18nBase,
  apiBase: root.dataset.apiBase,
};
const ui = {
  log: document.getElementById("log"),
  activity: document.getElementById("activity"),
  caseStatus: document.getElementById("case-status"),
  quickReplies: document.getElementById("quick-replies"),
  form: document.getElementById("composer"),
  input: document.getElementById("message"),
  error: document.getElementById("message-error"),
  notice: document.getElementById("notice"),
  noticeTitle: document.getElementById("notice-title"),
  noticeBody: document.getElementById("notice-body"),
  langToggle: document.getElementById("lang-toggle"),
  textSize: document.getElementById("text-size"),
  startError: document.getElementById("start-error"),
};

const state = {
  lang: root.lang === "en" ? "en" : "ja",
  texts: null,
  pending: 0,
  showingStarters: false,
  caseStatusKey: null,
  caseStatusValues: {},
};

const transport = new Transport(config.apiBase, {
  onPush: handlePush,
  onConnection: (kind) => {
    root.dataset.transport = kind;
  },
  onSessionInvalid: () => forgetSession(),
});

// First, so the way out works even if everything below fails.
installQuickExit({
  url: config.quickExitUrl,
  embedded: config.embedded,
  beforeExit: () => transport.close(),
});

// Phone numbers in replies become tap-to-call links (hotlines such as #8008, 0120-279-889, 110).
const PHONE = /#\d{4}|0\d{1,4}-\d{1,4}-\d{3,4}|(?<![\d-])1(?:10|19|88|89)(?!\d)/g;

function withPhoneLinks(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(PHONE)) {
    fragment.append(text.slice(last, match.index));
    const link = document.createElement("a");
    link.href = `tel:${encodeURIComponent(match[0].replaceAll("-", ""))}`;
    link.textContent = match[0];
    fragment.append(link);
    last = match.index + match[0].length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

function senderLabel(sender) {
  return state.texts[`sender_${sender}`] || state.texts.sender_bot;
}

function appendMessage(sender, text) {
  const item = document.createElement("div");
  item.className = `msg msg--${sender}`;
  item.dataset.sender = sender;
  const who = document.createElement("p");
  who.className = "msg__who";
  who.textContent = senderLabel(sender);
  const body = document.createElement("p");
  body.className = "msg__text";
  body.append(sender === "resident" ? text : withPhoneLinks(text));
  item.append(who, body);
  ui.log.append(item);
  return item;
}

function relabelMessages() {
  for (const who of ui.log.querySelectorAll(".msg__who")) {
    who.textContent = senderLabel(who.parentElement.dataset.sender);
  }
}

function renderQuickReplies(labels, { starters = false } = {}) {
  state.showingStarters = starters;
  ui.quickReplies.replaceChildren(
    ...labels.map((label) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button button--secondary";
      button.textContent = label;
      button.addEventListener("click", () => {
        send(label);
        ui.input.focus();
      });
      return button;
    }),
  );
}

function setCaseStatus(key, values = {}) {
  state.caseStatusKey = key;
  state.caseStatusValues = values;
  ui.caseStatus.textContent = key ? format(state.texts[key], values) : "";
}

function setActivity() {
  ui.activity.textContent = state.pending > 0 ? state.texts.typing : "";
}

function showError(key) {
  ui.error.textContent = key ? state.texts[key] : "";
}

function showNotice(notice, { keepOpen = false } = {}) {
  if (!notice) {
    ui.notice.hidden = true;
    return;
  }
  if (!keepOpen) {
    ui.notice.open = true;
  }
  ui.noticeTitle.textContent = notice.title;
  ui.noticeBody.replaceChildren(
    ...notice.body
      .split(/\n{2,}/)
      .filter((part) => part.trim())
      .map((part) => {
        const paragraph = document.createElement("p");
        paragraph.textContent = part.trim();
        return paragraph;
      }),
  );
  ui.notice.hidden = false;
}

function remember(resumeUntil) {
  if (transport.token && resumeUntil) {
    saveSession(transport.token, resumeUntil);
  }
}

function showAnswer(answer) {
  const first = answer.replies.map((reply) => appendMessage("bot", reply.text))[0];
  first?.scrollIntoView({ block: "start" });
  const withButtons = answer.replies.findLast((reply) => reply.quick_replies.length > 0);
  renderQuickReplies(withButtons ? withButtons.quick_replies : []);
  if (answer.handed_off && !state.caseStatusKey) {
    setCaseStatus("handed_off");
  }
  remember(answer.resume_until);
}

async function send(raw) {
  const text = raw.trim();
  if (!text) {
    return;
  }
  if (text.length > MAX_CHARS) {
    showError("error_too_long");
    return;
  }
  showError(null);
  // Read once: folded after the first message, still one tap away.
  ui.notice.open = false;
  appendMessage("resident", text);
  renderQuickReplies([]);
  state.pending += 1;
  setActivity();
  try {
    showAnswer(await transport.send(text, state.lang));
  } catch {
    showError("error_send");
    if (!ui.input.value) {
      ui.input.value = text;
    }
  } finally {
    state.pending -= 1;
    setActivity();
  }
}

function handlePush(frame) {
  if (frame.type === "message") {
    const sender = frame.from === "system" || frame.from === "bot" ? frame.from : "counselor";
    appendMessage(sender, frame.text);
  } else if (frame.type === "status") {
    if (frame.queue_position) {
      setCaseStatus("queue_position", { n: frame.queue_position });
    } else if (frame.state) {
      setCaseStatus(`state_${frame.state}`);
    }
  }
}

async function switchLanguage(lang) {
  state.texts = await loadTexts(config.i18nBase, lang);
  state.lang = lang;
  applyTexts(state.texts);
  relabelMessages();
  if (state.showingStarters) {
    renderQuickReplies(state.texts.starters, { starters: true });
  }
  if (state.caseStatusKey) {
    setCaseStatus(state.caseStatusKey, state.caseStatusValues);
  }
  if (!ui.notice.hidden) {
    const notice = await transport.notice(lang).catch(() => null);
    if (notice) {
      showNotice(notice, { keepOpen: true });
    }
  }
  savePrefs({ lang });
}

function setLargeText(on) {
  root.classList.toggle("large-text", on);
  ui.textSize.setAttribute("aria-pressed", String(on));
  savePrefs({ largeText: on });
}

async function resume(saved) {
  let history = null;
  try {
    history = await transport.history(saved.token);
  } catch {
    return false;
  }
  if (!history || history.messages.length === 0) {
    return false;
  }
  transport.token = saved.token;
  appendMessage("system", state.texts.resumed);
  for (const message of history.messages) {
    appendMessage(message.from, message.text);
    transport.saw(message.id, message.seq);
  }
  if (history.handed_off) {
    setCaseStatus("handed_off");
  }
  remember(history.resume_until);
  transport.connect(saved.token);
  return true;
}

async function startNew() {
  forgetSession();
  const opened = await transport.openSession(state.lang);
  transport.token = opened.session;
  remember(opened.resume_until);
  showNotice(opened.notice);
  appendMessage("bot", state.texts.welcome);
  renderQuickReplies(state.texts.starters, { starters: true });
  transport.connect(opened.session);
}

async function start() {
  const prefs = loadPrefs();
  setLargeText(prefs.largeText === true);
  state.texts = await loadTexts(config.i18nBase, state.lang);
  if (prefs.lang && prefs.lang !== state.lang) {
    await switchLanguage(prefs.lang);
  }
  const saved = loadSession();
  if (!(saved && (await resume(saved)))) {
    await startNew();
  }
  root.dataset.ready = "true";
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.input.value;
  ui.input.value = "";
  send(text);
});

ui.input.addEventListener("keydown", (event) => {
  // Enter confirms the IME conversion while composing Japanese; only a plain Enter sends.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    ui.form.requestSubmit();
  }
});

ui.langToggle.addEventListener("click", () => {
  switchLanguage(state.texts.language_toggle_lang);
});

ui.textSize.addEventListener("click", () => {
  setLargeText(!root.classList.contains("large-text"));
});

start().catch(() => {
  ui.startError.hidden = false;
  root.dataset.ready = "error";
});
