"""The reviewer page's script (served as /review.js): loads the queue, renders it with textContent only,
and posts approve/block with the CSRF token. Keys: j/k select, a approve, b block, e reason, r reload.

A click's request id is kept per (record, decision revision, decision), so a second click or a retry
after a lost answer is a replay the server recognises, never a second override.
"""

from __future__ import annotations

PAGE_JS = r""""use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const queueEl = document.getElementById("queue");
  const statusEl = document.getElementById("status");
  const contextEl = document.getElementById("context");
  const DEFAULT_REASON = {pass: "approved on the review page", block: "blocked on the review page"};
  const DONE = {pass: "Approved", block: "Blocked"};
  let items = [];
  let selected = 0;
  let lastQueue = null;  // the latest answer of /api/queue, for the header
  const reasons = new Map();  // record id -> the reason typed for it
  const requests = new Map();  // "id:rev:decision" -> request id: a repeated click is a replay
  const busy = new Set();
  const decided = new Map();  // record id -> the revision this page decided it at (the queue's index may lag)

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function say(text, kind) {
    statusEl.textContent = text;
    statusEl.className = kind || "";
  }

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function requestId(item, decision) {
    const key = item.id + ":" + item.decision_rev + ":" + decision;
    if (!requests.has(key)) requests.set(key, newId());
    return requests.get(key);
  }

  function size(item) {
    if (item.size === null || item.size === undefined) return item.image_format || "-";
    const kb = item.size / 1024;
    const text = kb < 1024 ? kb.toFixed(1) + " KB" : (kb / 1024).toFixed(1) + " MB";
    return item.image_format ? text + ", " + item.image_format : text;
  }

  function showContext(data) {
    const policy = data.policy || {};
    contextEl.replaceChildren(
      "stack " + data.stack + " \u00b7 acting as " + data.actor + " \u00b7 policy " + policy.version +
      " (" + policy.mode + ") \u00b7 " + items.length + " awaiting review" +
      (data.items.length >= data.limit ? " (the oldest " + data.limit + ")" : ""));
    if (policy.problem) contextEl.append(" ", el("span", {class: "warn", text: "policy problem: " + policy.problem}));
  }

  function thumbnail(item) {
    if (!item.thumbnail) return el("span", {class: "nothumb", text: item.thumbnail_note || "no preview"});
    const img = el("img", {class: "thumbnail", src: item.thumbnail, alt: "the version of " + item.key,
                           referrerpolicy: "no-referrer", decoding: "async"});
    img.addEventListener("error", () => img.replaceWith(el("span", {class: "nothumb",
      text: "no preview (not an image the browser shows, or the link expired: press r)"})));
    return img;
  }

  function card(item) {
    const facts = el("dl", {class: "facts"});
    const rows = [
      ["bucket", item.bucket],
      ["version", item.version_id || ("unversioned, ETag " + item.etag)],
      ["decided at", item.decided_at],
      ["state", item.state + (item.reason ? " (" + item.reason + ")" : "")],
      ["Green suggests", item.suggestion],
      ["policy", item.policy_version + " (" + item.decision_mode + ")"],
      ["size", size(item)],
    ];
    if (item.quarantined) rows.push(["where", "in quarantine"]);
    for (const [name, value] of rows) facts.append(el("dt", {text: name}), el("dd", {text: value || "-"}));
    const why = el("ul", {class: "reasons"});
    for (const reason of item.reasons.length ? item.reasons : ["(no reason recorded)"]) {
      why.append(el("li", {text: reason}));
    }
    const scenes = el("tbody");
    for (const s of item.scenes) {
      scenes.append(el("tr", {},
        el("td", {text: s.scene}), el("td", {text: s.label}),
        el("td", {class: "s-" + s.suggestion, text: s.suggestion}),
        el("td", {class: "rate", text: s.rate === null ? "-" : s.rate.toFixed(2)})));
    }
    const table = item.scenes.length ? el("table", {class: "scenes"},
      el("thead", {}, el("tr", {}, ...["scene", "label", "suggestion", "rate"].map((t) => el("th", {text: t})))),
      scenes) : el("p", {text: "No scene results (not scanned)."});
    const input = el("input", {class: "reason", maxlength: "500", "aria-label": "reason",
                               placeholder: "why (default: approved / blocked on the review page)"});
    input.value = reasons.get(item.id) || "";
    input.addEventListener("input", () => reasons.set(item.id, input.value));
    const approve = el("button", {type: "button", class: "approve"}, "Approve ", el("kbd", {text: "a"}));
    const block = el("button", {type: "button", class: "block"}, "Block ", el("kbd", {text: "b"}));
    approve.addEventListener("click", () => decide(item, "pass"));
    block.addEventListener("click", () => decide(item, "block"));
    const node = el("article", {class: "item", "data-id": item.id, "data-key": item.key},
      el("div", {class: "thumb"}, thumbnail(item)),
      el("div", {class: "body"}, el("h2", {class: "key", text: item.key}), facts,
        el("h3", {text: "Why it awaits review (the policy's reasons)"}), why,
        el("h3", {text: "Green's scenes"}), table,
        el("div", {class: "actions"}, el("label", {}, "Reason", input), approve, block)));
    node.addEventListener("click", () => { selected = items.indexOf(item); highlight(false); });
    return node;
  }

  function render() {
    const cards = items.map(card);
    queueEl.replaceChildren(...(cards.length ? cards : [el("p", {class: "empty", text: "Nothing awaits review."})]));
    highlight(false);
  }

  function highlight(scroll) {
    queueEl.querySelectorAll(".item").forEach((node, index) => {
      const on = index === selected;
      node.classList.toggle("selected", on);
      node.setAttribute("aria-current", on ? "true" : "false");
      if (on && scroll) node.scrollIntoView({block: "nearest"});
    });
  }

  function move(step) {
    if (!items.length) return;
    selected = Math.max(0, Math.min(items.length - 1, selected + step));
    highlight(true);
  }

  async function load(quiet) {
    if (!quiet) say("Loading the queue...");
    let response;
    try {
      response = await fetch("/api/queue", {cache: "no-store", credentials: "same-origin"});
    } catch (error) {
      say("Cannot reach the review server (" + error.message + ").", "error");
      return;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      say(data.error || "The queue could not be read (HTTP " + response.status + ").", "error");
      return;
    }
    const current = items[selected] ? items[selected].id : null;
    items = data.items.filter((item) => !(decided.has(item.id) && item.decision_rev <= decided.get(item.id)));
    const again = items.findIndex((item) => item.id === current);
    selected = again >= 0 ? again : Math.min(selected, Math.max(items.length - 1, 0));
    lastQueue = data;
    showContext(data);
    render();
    if (!quiet) say(items.length ? items.length + " awaiting review." : "Nothing awaits review.");
  }

  function setBusy(item, on) {
    const node = queueEl.querySelector('[data-id="' + CSS.escape(item.id) + '"]');
    if (node) node.querySelectorAll("button").forEach((button) => { button.disabled = on; });
  }

  async function decide(item, decision) {
    if (!item || busy.has(item.id)) return;
    busy.add(item.id);
    setBusy(item, true);
    const reason = (reasons.get(item.id) || "").trim() || DEFAULT_REASON[decision];
    say((decision === "pass" ? "Approving " : "Blocking ") + item.key + "...");
    try {
      const response = await fetch("/api/decisions", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify({record_id: item.id, decision: decision, reason: reason,
                              request_id: requestId(item, decision), decision_rev: item.decision_rev}),
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        say(data.error || "Refused (HTTP " + response.status + ").", "error");
        if (response.status === 404 || response.status === 409) await load(true);
        return;
      }
      decided.set(item.id, data.decision_rev);
      const index = items.indexOf(item);
      if (index >= 0) items.splice(index, 1);
      if (selected > index || selected >= items.length) selected = Math.max(0, selected - 1);
      reasons.delete(item.id);
      showContext(lastQueue);
      render();
      say(DONE[decision] + " " + item.key + (data.applied ? "" : " (it was already)") + ": now " + data.state +
          ", decision " + data.decision + ". " + items.length + " left.", "ok");
    } catch (error) {
      say("The decision was not confirmed (" + error.message + "); trying again is safe.", "error");
    } finally {
      busy.delete(item.id);
      setBusy(item, false);
    }
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const item = items[selected];
    if (event.key === "j") move(1);
    else if (event.key === "k") move(-1);
    else if (event.key === "a") decide(item, "pass");
    else if (event.key === "b") decide(item, "block");
    else if (event.key === "r") load(false);
    else if (event.key === "e") {
      const node = queueEl.querySelectorAll(".item")[selected];
      if (node) node.querySelector("input.reason").focus();
    } else return;
    event.preventDefault();
  });
  document.getElementById("reload").addEventListener("click", () => load(false));
  setInterval(() => {
    const typing = document.activeElement instanceof HTMLInputElement;
    if (!busy.size && !typing && !document.hidden) load(true);
  }, 60000);
  load(false);
})();
"""
