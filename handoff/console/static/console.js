// Live updates for the counselor console. The pages work without this script; it only
// refreshes the queue and the open case when the server says something changed.
"use strict";

(function () {
  const body = document.body;
  const live = body.dataset.live;
  const caseId = body.dataset.case || "";
  const status = document.getElementById("live-status");

  function cell(row, content) {
    const td = document.createElement("td");
    if (content instanceof Node) {
      td.appendChild(content);
    } else {
      td.textContent = content;
    }
    row.appendChild(td);
  }

  function badge(item) {
    const span = document.createElement("span");
    span.className = "badge " + item.urgency_class;
    span.textContent = item.urgency_label;
    return span;
  }

  function link(item) {
    const a = document.createElement("a");
    a.href = "/console/cases/" + encodeURIComponent(item.case_id);
    a.textContent = item.name;
    return a;
  }

  function fill(tbodyId, items, last, empty) {
    const tbody = document.getElementById(tbodyId);
    if (!tbody) {
      return;
    }
    tbody.replaceChildren();
    if (items.length === 0) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 4;
      td.textContent = empty;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    for (const item of items) {
      const tr = document.createElement("tr");
      cell(tr, badge(item));
      cell(tr, link(item));
      cell(tr, item.pool_name);
      cell(tr, last(item));
      tbody.appendChild(tr);
    }
  }

  // Emergency alerts: the server sends {type: "alert", …} frames with every text already
  // written (handoff/content/console_texts.yml). Adding an item to the role="alert" region
  // makes screen readers announce it at once.
  const alerts = document.getElementById("alerts");

  function addAlert(frame) {
    if (!alerts) {
      return;
    }
    for (const item of alerts.querySelectorAll(".alert-item")) {
      if (item.dataset.case === frame.case_id) {
        return;
      }
    }
    const item = document.createElement("div");
    item.className = "alert-item";
    item.dataset.case = frame.case_id;
    item.dataset.status = frame.status;
    const title = document.createElement("p");
    title.className = "alert-title";
    const icon = document.createElement("span");
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "⚠";
    title.append(icon, " " + frame.title);
    const message = document.createElement("p");
    message.className = "alert-message";
    message.textContent = frame.message;
    const actions = document.createElement("p");
    actions.className = "alert-actions";
    const open = document.createElement("a");
    open.href = frame.href;
    open.textContent = frame.open_label;
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "secondary dismiss";
    dismiss.textContent = frame.dismiss_label;
    actions.append(open, " ", dismiss);
    item.append(title, message, actions);
    alerts.appendChild(item);
  }

  function pruneAlerts(queued) {
    // An alert for a waiting case goes once someone has taken the case.
    if (!alerts) {
      return;
    }
    const waiting = new Set(queued.map((i) => i.case_id));
    for (const item of alerts.querySelectorAll('.alert-item[data-status="queued"]')) {
      if (!waiting.has(item.dataset.case)) {
        item.remove();
      }
    }
  }

  if (alerts) {
    alerts.addEventListener("click", (event) => {
      const button = event.target.closest("button.dismiss");
      if (button) {
        button.closest(".alert-item").remove();
      }
    });
  }

  let caseVersion = null;

  async function refreshTranscript() {
    const response = await fetch("/console/cases/" + encodeURIComponent(caseId) + "/transcript", {
      credentials: "same-origin",
      cache: "no-store",
    });
    if (response.ok) {
      document.getElementById("transcript").innerHTML = await response.text();
    }
  }

  function onFrame(frame) {
    if (frame.type === "alert") {
      addAlert(frame);
      return;
    }
    if (frame.type === "queue") {
      pruneAlerts(frame.queued);
    }
    if (frame.type === "queue" && live === "queue") {
      fill("queued", frame.queued, (i) => i.waited_minutes + "分", "待っている相談はありません。");
      fill("claimed", frame.claimed, (i) => i.counselor || "", "対応中の相談はありません。");
      status.textContent = "最新の状態です（" + new Date().toLocaleTimeString("ja-JP") + "）";
    } else if (frame.type === "case" && live === "case") {
      const [count, ...rest] = frame.version.split(":");
      const hands = rest.join(":");
      if (caseVersion !== null) {
        const [oldCount, ...oldRest] = caseVersion.split(":");
        if (oldRest.join(":") !== hands) {
          status.textContent = "担当が変わりました。画面を更新してください。";
        } else if (oldCount !== count) {
          refreshTranscript();
          status.textContent = "新しいメッセージがあります。";
        }
      }
      caseVersion = frame.version;
    }
  }

  let delay = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const query = caseId ? "?case=" + encodeURIComponent(caseId) : "";
    const socket = new WebSocket(scheme + location.host + "/console/ws" + query);
    socket.addEventListener("open", () => {
      delay = 1000;
    });
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) {
        // Signed out (here or elsewhere, or the password changed): back to the sign-in form.
        location.assign("/console/login");
        return;
      }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  // Every signed-in page listens (for emergency alerts), not only the live ones.
  connect();

  const canned = document.getElementById("canned");
  const replyText = document.getElementById("reply-text");
  if (canned && replyText) {
    canned.addEventListener("change", () => {
      if (canned.value) {
        replyText.value = replyText.value ? replyText.value + "\n" + canned.value : canned.value;
        replyText.focus();
        canned.value = "";
      }
    });
  }

  const clock = document.getElementById("session-clock");
  if (clock && clock.dataset.claimedAt) {
    const started = Date.parse(clock.dataset.claimedAt);
    const warning = Number(clock.dataset.warning);
    const cap = Number(clock.dataset.cap);
    const tick = () => {
      const minutes = Math.max(0, Math.floor((Date.now() - started) / 60000));
      let text = "対応時間 " + minutes + "分（上限 " + cap + "分）";
      clock.className = "clock running";
      if (minutes >= cap) {
        text += " — 上限をこえました。あたたかく終えましょう。";
        clock.className = "clock over_cap";
      } else if (minutes >= warning) {
        text += " — そろそろ終わりの準備をしましょう。";
        clock.className = "clock warning";
      }
      clock.textContent = text;
    };
    setInterval(tick, 30000);
  }
})();
