// Talking to the server: a WebSocket when it opens (replies and counselor pushes), plain HTTP
// otherwise. The session token goes in the first socket frame or an Authorization header,
// never in a URL. Without a socket, counselor and queue messages come from polling
// `GET /messages?after=<cursor>` until the socket (retried with backoff) is back.

const REPLY_TIMEOUT_MS = 30000;
const MAX_RECONNECT_DELAY_MS = 15000;
const CLOSE_INVALID_SESSION = 4401;
// Polling: every few seconds while the page is shown, rarely while it is hidden, backing off
// on errors. One client IP may stand for several residents (an office NAT) under the chat's
// per-IP rate limit, so the pace stays modest.
const POLL_MS = 4000;
const POLL_HIDDEN_MS = 15000;
const MAX_POLL_BACKOFF_MS = 60000;
// The ids of replies already shown that the next poll should not send again (the server
// accepts up to 20; an id left out is only read again and dropped here).
const MAX_SKIP = 20;

export class SendError extends Error {
  constructor(code, detail) {
    super(detail || code);
    this.code = code;
  }
}

export class Transport {
  constructor(apiBase, { onPush, onConnection, onSessionInvalid }) {
    this.apiBase = apiBase;
    this.onPush = onPush;
    this.onConnection = onConnection;
    this.onSessionInvalid = onSessionInvalid;
    this.socket = null;
    this.ready = false;
    this.closed = false;
    this.attempts = 0;
    this.sequence = 0;
    this.pending = new Map();
    // Pushes catch up from the last message shown (`seq`) after a reconnect; ids already
    // shown (replies, earlier pushes) are skipped.
    this.after = null;
    this.shown = new Set();
    // Shown ids whose `seq` is unknown (replies): the next poll asks the server to skip them.
    this.unnumbered = [];
    this.polling = false;
    this.pollTimer = null;
    this.pollInFlight = false;
    this.pollFailures = 0;
    // Bumped whenever a poll's answer could overlap another path (a POST, a socket): such an
    // answer is dropped unseen and the cursor stays, so the next poll or the socket's
    // catch-up brings its messages once, in order.
    this.epoch = 0;
    this.posting = 0;
    document.addEventListener("visibilitychange", () => {
      // Back on the page: look at once rather than after the slower hidden-page pace.
      if (this.polling && !this.pollInFlight && !document.hidden) {
        this.#schedulePoll(0);
      }
    });
    window.addEventListener("pagehide", () => this.#stopPolling());
    window.addEventListener("pageshow", (event) => {
      if (event.persisted && this.token && !this.closed && !this.ready) {
        this.#fallBack();
      }
    });
  }

  /** Remembers a message shown from the history or a reply, so no push repeats it. */
  saw(id, seq) {
    if (id) {
      this.shown.add(id);
      if (!Number.isInteger(seq)) {
        this.unnumbered.push(id);
        this.unnumbered.splice(0, Math.max(0, this.unnumbered.length - MAX_SKIP));
      }
    }
    if (Number.isInteger(seq) && (this.after === null || seq > this.after)) {
      this.after = seq;
    }
  }

  async openSession(language) {
    const response = await fetch(`${this.apiBase}/sessions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ language }),
    });
    if (!response.ok) {
      throw new SendError("session", `HTTP ${response.status}`);
    }
    return response.json();
  }

  async notice(language) {
    const response = await fetch(`${this.apiBase}/notice?language=${encodeURIComponent(language)}`);
    return response.ok ? response.json() : null;
  }

  /** The session's messages, or null when it cannot be resumed (expired or unknown). */
  async history(token) {
    const response = await fetch(`${this.apiBase}/history`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (response.status === 401 || response.status === 410) {
      return null;
    }
    if (!response.ok) {
      throw new SendError("history", `HTTP ${response.status}`);
    }
    return response.json();
  }

  connect(token) {
    this.token = token;
    this.closed = false;
    this.#open();
  }

  close() {
    this.closed = true;
    this.#stopPolling();
    this.socket?.close();
  }

  /** Without a socket: look for pushed messages now and then until the socket is back. */
  #fallBack() {
    this.ready = false;
    this.onConnection("http");
    if (!this.closed && !this.polling) {
      this.polling = true;
      this.pollFailures = 0;
      this.#schedulePoll(0);
    }
  }

  #stopPolling() {
    this.polling = false;
    if (this.pollTimer !== null) {
      window.clearTimeout(this.pollTimer);
      this.pollTimer = null;
    }
    this.epoch += 1;
  }

  #schedulePoll(delay) {
    if (this.pollTimer !== null) {
      window.clearTimeout(this.pollTimer);
    }
    this.pollTimer = window.setTimeout(() => this.#poll(), delay);
  }

  #pollDelay(retryAfterSeconds) {
    let delay = document.hidden ? POLL_HIDDEN_MS : POLL_MS;
    if (this.pollFailures > 0) {
      delay = Math.min(delay * 2 ** this.pollFailures, MAX_POLL_BACKOFF_MS);
    }
    if (retryAfterSeconds > 0) {
      delay = Math.max(delay, retryAfterSeconds * 1000);
    }
    // A little jitter, so widgets behind one address do not poll in step.
    return Math.round(delay * (0.9 + Math.random() * 0.2));
  }

  async #poll() {
    this.pollTimer = null;
    if (!this.polling || this.pollInFlight || this.closed || this.ready) {
      return;
    }
    if (this.posting > 0) {
      // The turn's answer is on its way; poll right after it.
      this.#schedulePoll(this.#pollDelay(0));
      return;
    }
    const epoch = this.epoch;
    const skip = this.unnumbered.slice();
    const params = new URLSearchParams({ after: String(this.after ?? 0) });
    for (const id of skip) {
      params.append("skip", id);
    }
    let retryAfter = 0;
    this.pollInFlight = true;
    try {
      const response = await fetch(`${this.apiBase}/messages?${params}`, {
        headers: { Authorization: `Bearer ${this.token}` },
        cache: "no-store",
      });
      if (response.status === 401) {
        // Not a session of this server (any more): nothing will come.
        this.closed = true;
        this.#stopPolling();
        this.onSessionInvalid?.();
        return;
      }
      if (!response.ok) {
        // 410 too: past the resume window nothing is read, but a counselor's message would
        // open it again, so the widget keeps looking, slowly.
        retryAfter = Number(response.headers.get("Retry-After")) || 0;
        throw new SendError("poll", `HTTP ${response.status}`);
      }
      const answer = await response.json();
      if (epoch !== this.epoch || this.ready || this.closed) {
        return;
      }
      this.pollFailures = 0;
      for (const message of answer.messages || []) {
        this.#onFrame({ type: "message", ...message });
      }
      if (Number.isInteger(answer.cursor) && (this.after === null || answer.cursor > this.after)) {
        this.after = answer.cursor;
      }
      // The cursor is past them now.
      this.unnumbered = this.unnumbered.filter((id) => !skip.includes(id));
    } catch {
      this.pollFailures += 1;
    } finally {
      this.pollInFlight = false;
      if (this.polling && !this.closed && !this.ready) {
        this.#schedulePoll(this.#pollDelay(retryAfter));
      }
    }
  }

  #open() {
    const url = new URL(`${this.apiBase}/ws`, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try {
      socket = new WebSocket(url);
    } catch {
      this.#fallBack();
      this.#retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      // The auth frame's `after` catches up from here; a poll still on its way is dropped.
      this.epoch += 1;
      const auth = { type: "auth", session: this.token };
      if (this.after !== null) {
        auth.after = this.after;
      }
      socket.send(JSON.stringify(auth));
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.#onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      this.ready = false;
      for (const { reject } of this.pending.values()) {
        reject(new SendError("disconnected"));
      }
      this.pending.clear();
      if (event.code === CLOSE_INVALID_SESSION) {
        this.closed = true;
        this.#stopPolling();
        this.onConnection("http");
        this.onSessionInvalid?.();
      } else if (!this.closed) {
        this.#fallBack();
        this.#retry();
      }
    });
  }

  #retry() {
    this.attempts += 1;
    const delay = Math.min(1000 * 2 ** (this.attempts - 1), MAX_RECONNECT_DELAY_MS);
    window.setTimeout(() => {
      if (!this.closed) {
        this.#open();
      }
    }, delay);
  }

  #onFrame(frame) {
    if (frame.type === "ready") {
      if (this.after === null && Number.isInteger(frame.cursor)) {
        this.after = frame.cursor;
      }
      this.ready = true;
      this.attempts = 0;
      this.#stopPolling();
      this.onConnection("socket", frame);
    } else if (frame.type === "reply") {
      for (const reply of frame.replies || []) {
        this.saw(reply.id);
      }
      this.pending.get(frame.id)?.resolve(frame);
      this.pending.delete(frame.id);
    } else if (frame.type === "error") {
      const waiting = frame.id && this.pending.get(frame.id);
      if (waiting) {
        waiting.reject(new SendError(frame.code, frame.detail));
        this.pending.delete(frame.id);
      }
    } else if (frame.type === "message") {
      if (frame.id && this.shown.has(frame.id)) {
        return;
      }
      this.saw(frame.id, frame.seq);
      this.onPush(frame);
    } else if (frame.type === "status") {
      this.onPush(frame);
    }
  }

  /** Sends one message; resolves with {replies, handed_off, resume_until}. */
  send(text, language) {
    const socket = this.socket;
    if (!this.ready || !socket || socket.readyState !== WebSocket.OPEN) {
      return this.#post(text, language);
    }
    this.sequence += 1;
    const id = `m${this.sequence}`;
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.pending.delete(id);
        reject(new SendError("timeout"));
      }, REPLY_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (frame) => {
          window.clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          window.clearTimeout(timer);
          reject(error);
        },
      });
      socket.send(JSON.stringify({ type: "message", id, text, language }));
    });
  }

  async #post(text, language) {
    // A poll answered while the turn runs may hold its replies too: it is dropped (epoch).
    this.posting += 1;
    this.epoch += 1;
    try {
      const response = await fetch(`${this.apiBase}/messages`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ text, language }),
      });
      if (response.status === 401) {
        this.onSessionInvalid?.();
        throw new SendError("invalid_session");
      }
      if (!response.ok) {
        throw new SendError(response.status === 422 ? "invalid_frame" : "http", `HTTP ${response.status}`);
      }
      const answer = await response.json();
      for (const reply of answer.replies || []) {
        this.saw(reply.id);
      }
      return answer;
    } finally {
      this.posting -= 1;
      this.epoch += 1;
    }
  }
}
