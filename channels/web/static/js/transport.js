// Talking to the server: a WebSocket when it opens (replies and counselor pushes), plain HTTP
// otherwise. The session token goes in the first socket frame or an Authorization header,
// never in a URL.

const REPLY_TIMEOUT_MS = 30000;
const MAX_RECONNECT_DELAY_MS = 15000;
const CLOSE_INVALID_SESSION = 4401;

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
  }

  /** Remembers a message shown from the history or a reply, so no push repeats it. */
  saw(id, seq) {
    if (id) {
      this.shown.add(id);
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
    this.socket?.close();
  }

  #open() {
    const url = new URL(`${this.apiBase}/ws`, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try {
      socket = new WebSocket(url);
    } catch {
      this.#retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
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
      this.onConnection("http");
      if (event.code === CLOSE_INVALID_SESSION) {
        this.closed = true;
        this.onSessionInvalid?.();
      } else if (!this.closed) {
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
    return response.json();
  }
}
