// The sandbox workspace page: renders /_emulator/state as Slack would and acts through
// the emulator's control endpoints (the same signed requests Slack sends the bot).
"use strict";

const ui = {
  state: null,
  user: localStorage.getItem("sandbox.user") || "U0000ONC01",
  channel: localStorage.getItem("sandbox.channel") || "C0000ALERT",
  thread: null,          // [channel, ts] of the open thread
  seen: {},              // channel -> newest ts the user has looked at
  picker: null,          // ts of the message whose emoji picker is open
  menu: null,            // "ts|action_id" of the open overflow menu
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "html") node.innerHTML = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- mrkdwn ------------------------------------------------------------------------

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function safeUrl(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : null;
}

// One `<...>` control sequence as Slack shows it.
function control(inner) {
  const [target, label] = splitOnce(inner, "|");
  const names = ui.state.names, groups = ui.state.usergroups;
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return `<span class="mention">@${escapeHtml(label || names[id] || id)}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const channel = ui.state.channels.find((c) => c.id === id);
    return `<span class="mention">#${escapeHtml(label || (channel ? channel.name : id))}</span>`;
  }
  if (target.startsWith("!subteam^")) {
    const id = target.slice(9);
    const shown = label || (groups[id] ? "@" + groups[id] : id);
    return `<span class="mention">${escapeHtml(shown)}</span>`;
  }
  if (target.startsWith("!date^")) return escapeHtml(unescapeSlack(label || ""));
  if (target.startsWith("!")) return `<span class="mention">@${escapeHtml(label || target.slice(1))}</span>`;
  const url = safeUrl(unescapeSlack(target));
  const shown = escapeHtml(unescapeSlack(label || target));
  return url ? `<a href="${escapeHtml(url)}" target="_blank" rel="noopener">${shown}</a>` : shown;
}

function splitOnce(text, sep) {
  const at = text.indexOf(sep);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

// Placeholders for the HTML already made are \u0000N\u0001, so those two characters are taken
// out of the text first; each held piece has its own placeholders filled in when it is held,
// so one pass at the end fills them all (no loop over text the page was sent).
const HELD = /\u0000(\d+)\u0001/g;

function mrkdwn(source) {
  const parts = [];
  const fill = (html) => html.replace(HELD, (_, i) => parts[Number(i)] ?? "");
  const hold = (html) => { parts.push(fill(html)); return `\u0000${parts.length - 1}\u0001`; };
  let text = String(source).replace(/[\u0000\u0001]/g, "\ufffd");
  text = text.replace(/<([^<>]+)>/g, (_, inner) => hold(control(inner)));
  text = escapeHtml(unescapeSlack(text));
  text = text.replace(/```([\s\S]*?)```/g, (_, code) => hold(`<pre>${code}</pre>`));
  text = text.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${code}</code>`));
  text = text.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,!?:;])/gm, "$1<b>$2</b>");
  text = text.replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,!?:;])/gm, "$1<i>$2</i>");
  text = text.replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,!?:;])/gm, "$1<s>$2</s>");
  text = text.replace(/:([a-z0-9_+-]+):/g, (m, name) => (Object.hasOwn(ui.state.emoji, name) ? ui.state.emoji[name] : m));
  text = text.replace(/\n/g, "<br>");
  return fill(text);
}

function textObject(obj) {
  if (!obj) return "";
  return obj.type === "mrkdwn" ? mrkdwn(obj.text || "") : escapeHtml(obj.text || "");
}

// -- Block Kit ---------------------------------------------------------------------

function renderBlocks(message) {
  const out = el("div", { class: "blocks" });
  for (const block of message.blocks || []) out.append(renderBlock(block, message));
  for (const attachment of message.attachments || []) {
    const box = el("div", { class: "attachment" });
    // Through the CSSOM, which takes a colour or nothing (and the CSP allows no style="").
    if (attachment.color) box.style.borderLeftColor = String(attachment.color);
    for (const block of attachment.blocks || []) box.append(renderBlock(block, message));
    if (attachment.text) box.append(el("div", { class: "text", html: mrkdwn(attachment.text) }));
    out.append(box);
  }
  return out;
}

function renderBlock(block, message) {
  switch (block.type) {
    case "header":
      return el("div", { class: "bk-header", html: textObject(block.text) });
    case "section": {
      const main = el("div", { class: "bk-main" });
      if (block.text) main.append(el("div", { class: "text", html: textObject(block.text) }));
      if (block.fields) {
        main.append(el("div", { class: "bk-fields" }, block.fields.map((f) => el("div", { html: textObject(f) }))));
      }
      const section = el("div", { class: "bk-section" }, main);
      if (block.accessory) section.append(renderElement(block.accessory, message));
      return section;
    }
    case "context":
      return el("div", { class: "bk-context" }, (block.elements || []).map((e) =>
        e.type === "image" ? imageTag(e.image_url, e.alt_text) : el("span", { html: textObject(e) })));
    case "divider":
      return el("hr", { class: "bk-divider" });
    case "image":
      return el("div", { class: "bk-image" }, block.title ? el("div", { class: "muted", html: textObject(block.title) }) : null,
        imageTag(block.image_url, block.alt_text));
    case "actions":
      return el("div", { class: "bk-actions" }, (block.elements || []).map((e) => renderElement(e, message)));
    case "rich_text":
      return el("div", { class: "text" }, richText(block));
    default:
      return el("div", { class: "muted" }, `[${block.type} block]`);
  }
}

// Images from elsewhere are not fetched: the page loads nothing from the internet.
function imageTag(url, alt) {
  if (url && (url.startsWith("/") || url.startsWith(location.origin) || url.startsWith("data:image/"))) {
    return el("img", { src: url, alt: alt || "" });
  }
  return el("div", { class: "placeholder", title: url || "" }, `[image: ${alt || url || "no url"}]`);
}

function richText(block) {
  const words = [];
  const walk = (node) => {
    if (node.type === "text") words.push(node.text);
    else if (node.type === "user") words.push("@" + (ui.state.names[node.user_id] || node.user_id));
    else if (node.type === "link") words.push(node.text || node.url);
    for (const child of node.elements || []) walk(child);
  };
  walk(block);
  return words.join("");
}

function renderElement(element, message) {
  const click = (value) => act(message, element, value);
  if (element.type === "button") {
    return el("button", {
      class: `bk-button ${element.style || ""}`, type: "button",
      "data-action-id": element.action_id, onclick: () => click(element.value || ""),
    }, element.text ? element.text.text : "Button");
  }
  if (element.type === "static_select") {
    const select = el("select", { class: "bk-select", "data-action-id": element.action_id,
      onchange: (event) => event.target.value && click(event.target.value) },
    el("option", { value: "" }, element.placeholder ? element.placeholder.text : "Select an item"),
    (element.options || []).map((o) => el("option", { value: o.value }, o.text.text)));
    return select;
  }
  if (element.type === "overflow") {
    const key = `${message.ts}|${element.action_id}`;
    const wrap = el("span", { class: "bk-overflow" },
      el("button", { class: "bk-button", type: "button", "data-action-id": element.action_id, title: "More actions",
        onclick: () => { ui.menu = ui.menu === key ? null : key; render(); } }, "\u22ee"));
    if (ui.menu === key) {
      wrap.append(el("div", { class: "bk-overflow-menu" }, (element.options || []).map((o) =>
        el("button", { type: "button", onclick: () => { ui.menu = null; click(o.value); } }, o.text.text))));
    }
    return wrap;
  }
  if (element.type === "image") return imageTag(element.image_url, element.alt_text);
  return el("span", { class: "muted" }, `[${element.type}]`);
}

// -- messages ----------------------------------------------------------------------

function initials(name) {
  return name.split(/\s+/).map((w) => w[0] || "").join("").slice(0, 2).toUpperCase();
}

function timeOf(ts) {
  return new Date(Number(ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderMessage(message, { inThread = false } = {}) {
  const isBot = message.user === "U0BOT00001";
  const name = isBot ? "chatops" : (ui.state.names[message.user] || message.user);
  const body = el("div", { class: "body" },
    el("div", { class: "meta" },
      el("span", { class: "author" }, name),
      isBot ? el("span", { class: "app-badge" }, "APP") : null,
      el("span", { class: "time" }, timeOf(message.ts)),
      message.edits > 0 ? el("span", { class: "edited" }, "(edited)") : null),
    message.ephemeral_user ? el("div", { class: "only-you" }, "Only visible to you") : null,
    (message.blocks || []).length ? renderBlocks(message) : el("div", { class: "text", html: mrkdwn(message.text || "") }));
  if (!message.blocks?.length && message.attachments?.length) body.append(renderBlocks(message));
  const reactions = Object.entries(message.reactions || {});
  if (reactions.length) {
    body.append(el("div", { class: "reactions" }, reactions.map(([emoji, users]) =>
      el("button", {
        class: `reaction ${users.includes(ui.user) ? "mine" : ""}`, type: "button", "data-name": emoji,
        title: users.map((u) => ui.state.names[u] || u).join(", "),
        onclick: () => react(message, emoji, users.includes(ui.user)),
      }, `${ui.state.emoji[emoji] || ":" + emoji + ":"} ${users.length}`))));
  }
  if (!inThread && message.replies && message.replies.length) {
    const n = message.replies.length;
    body.append(el("a", { class: "thread-link", onclick: () => openThread(message) }, `${n} ${n === 1 ? "reply" : "replies"}`));
  }
  if (ui.picker === message.ts && !message.ephemeral_user) {
    body.append(el("div", { class: "emoji-picker" }, Object.entries(ui.state.emoji).slice(0, 24).map(([emoji, char]) =>
      el("button", { type: "button", title: `:${emoji}:`, "data-emoji": emoji,
        onclick: () => { ui.picker = null; react(message, emoji, false); } }, char))));
  }
  const row = el("div", {
    class: `message ${message.ephemeral_user ? "ephemeral" : ""}`, "data-ts": message.ts, "data-channel": message.channel,
  }, el("div", { class: `avatar ${isBot ? "bot" : ""}` }, isBot ? "\u26a1" : initials(name)), body);
  if (!message.ephemeral_user) {
    row.append(el("div", { class: "message-actions" },
      el("button", { type: "button", class: "add-reaction", title: "Add reaction",
        onclick: () => { ui.picker = ui.picker === message.ts ? null : message.ts; render(); } }, "\u263a+"),
      inThread ? null : el("button", { type: "button", title: "Open thread", onclick: () => openThread(message) }, "\u{1f4ac}")));
  }
  return row;
}

function allMessages(channel) {
  return channel.messages.flatMap((m) => [m, ...(m.replies || [])]);
}

// -- rendering ---------------------------------------------------------------------

function render() {
  const state = ui.state;
  if (!state) return;
  renderUsers(state);
  const channel = state.channels.find((c) => c.id === ui.channel) || state.channels[0];
  ui.channel = channel.id;
  const newest = allMessages(channel).map((m) => m.ts).sort().pop();
  if (newest) ui.seen[channel.id] = newest;
  renderChannels(state);
  $("channel-name").textContent = "# " + channel.name;
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const mine = state.ephemerals.filter((e) => e.channel === channel.id && e.ephemeral_user === ui.user && !e.thread_ts);
  const items = [...channel.messages, ...mine].sort((a, b) => Number(a.ts) - Number(b.ts));
  box.replaceChildren(...items.map((m) => renderMessage(m)));
  if (atBottom) box.scrollTop = box.scrollHeight;
  renderThread(state);
  renderExamples(state);
  renderWatchdog(state);
  renderOnCall(state);
  renderIncidents(state);
}

function renderUsers(state) {
  const select = $("user-switcher");
  if (select.options.length !== state.users.length) {
    select.replaceChildren(...state.users.map((u) =>
      el("option", { value: u.id }, `${u.real_name} (${u.roles.join(", ")})`)));
  }
  select.value = ui.user;
  const me = state.users.find((u) => u.id === ui.user);
  $("roles").replaceChildren(...(me ? me.roles : []).map((r) => el("span", { class: "role" }, r)));
}

function renderChannels(state) {
  $("channels").replaceChildren(...state.channels.map((c) => {
    const unread = allMessages(c).filter((m) => !ui.seen[c.id] || Number(m.ts) > Number(ui.seen[c.id])).length;
    return el("li", {
      class: `channel ${c.id === ui.channel ? "active" : ""} ${unread ? "has-unread" : ""}`,
      "data-channel": c.id, onclick: () => { ui.channel = c.id; localStorage.setItem("sandbox.channel", c.id); ui.thread = null; render(); },
    }, el("span", {}, "# " + c.name), unread ? el("span", { class: "unread" }, unread) : null);
  }));
}

function renderThread(state) {
  const pane = $("thread");
  if (!ui.thread) { pane.hidden = true; return; }
  const [channelId, ts] = ui.thread;
  const channel = state.channels.find((c) => c.id === channelId);
  const parent = channel && channel.messages.find((m) => m.ts === ts);
  if (!parent) { pane.hidden = true; return; }
  pane.hidden = false;
  const mine = state.ephemerals.filter((e) => e.thread_ts === ts && e.ephemeral_user === ui.user);
  const replies = [...parent.replies, ...mine].sort((a, b) => Number(a.ts) - Number(b.ts));
  $("thread-messages").replaceChildren(renderMessage(parent, { inThread: true }),
    ...replies.map((r) => renderMessage(r, { inThread: true })));
}

function renderExamples(state) {
  const list = $("examples");
  if (list.children.length === state.examples.length) return;
  list.replaceChildren(...state.examples.map((name) => el("li", { "data-example": name },
    el("span", {}, name),
    el("span", {},
      el("button", { class: "bk-button danger", type: "button", "data-fire": name, onclick: () => fire(name, false) }, "Fire"),
      " ",
      el("button", { class: "bk-button", type: "button", "data-resolve": name, onclick: () => fire(name, true) }, "Resolve")))));
}

// The Watchdog, as Alertmanager re-sends it: stop it to see the bot's heartbeat go late.
function renderWatchdog(state) {
  const dog = state.watchdog || { running: false, sent: 0 };
  $("watchdog-state").textContent = dog.running
    ? `sending (${dog.sent} sent${dog.last_sent ? ", last at " + dog.last_sent : ""})`
    : "stopped";
  const button = $("watchdog-toggle");
  button.textContent = dog.running ? "Stop Watchdog" : "Start Watchdog";
  button.onclick = () => post("/_emulator/watchdog", { running: !dog.running }).then(refresh);
}

function renderOnCall(state) {
  const people = state.oncall || [];
  $("oncall").replaceChildren(...people.map((o) => el("li", { class: "oncall" },
    `${o.schedule}: ${o.user} until ${o.until.slice(11, 16)} UTC`)));
}

function renderIncidents(state) {
  const list = $("incidents");
  if (!state.incidents.length) {
    list.replaceChildren(el("li", { class: "muted" }, "No incidents. Fire a P0 to page the on-call engineer, or open one above."));
    return;
  }
  list.replaceChildren(...[...state.incidents].reverse().map((i) => el("li", {
    class: `incident ${i.status}`, id: `pagerduty-${i.id}`, "data-id": i.id,
  },
  el("div", {}, el("span", { class: "incident-status" }, i.status), ` #${i.number} \u00b7 ${i.urgency} urgency`),
  el("div", { class: "incident-title" }, i.title),
  el("div", { class: "muted" }, `Assigned to ${i.assignee}`),
  el("ul", { class: "incident-log" }, i.log.map((e) => el("li", {}, `${e.at.slice(11, 19)} ${e.text}`))),
  i.status === "resolved" ? null : el("div", { class: "buttons" },
    i.status === "triggered" ? el("button", { class: "bk-button", type: "button", "data-pd-action": "acknowledge",
      onclick: () => incidentAction(i.id, "acknowledge") }, "Acknowledge") : null,
    el("button", { class: "bk-button primary", type: "button", "data-pd-action": "resolve",
      onclick: () => incidentAction(i.id, "resolve") }, "Resolve")))));
}

function openThread(message) {
  ui.thread = [message.channel, message.ts];
  render();
}

// -- acting ------------------------------------------------------------------------

function notice(text, isError) {
  const box = $("notice");
  box.textContent = text;
  box.className = isError ? "error" : "";
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let data = {};
  try { data = await response.json(); } catch (e) { data = { ok: false, error: `HTTP ${response.status}` }; }
  if (!response.ok || data.ok === false) {
    notice(data.error || `failed (${response.status})`, true);
    return null;
  }
  // The emulator forwarded it; what the bot answered is in `status` and `body`.
  if (data.status && data.status >= 300) {
    notice(`The bot answered ${data.status}: ${typeof data.body === "string" ? data.body : JSON.stringify(data.body)}`, true);
    return null;
  }
  notice("", false);
  return data;
}

function act(message, element, value) {
  return post("/_emulator/action", {
    user: ui.user, channel: message.channel, message_ts: message.ts, action_id: element.action_id, value,
  }).then(refresh);
}

function react(message, emoji, remove) {
  return post("/_emulator/reaction", {
    user: ui.user, channel: message.channel, ts: message.ts, reaction: emoji, removed: remove,
  }).then(refresh);
}

function fire(name, resolve) {
  notice(`${resolve ? "Resolving" : "Firing"} ${name}\u2026`, false);
  return post("/_emulator/alertmanager", { name, resolve }).then((ok) => {
    if (ok) notice(`Alertmanager sent ${name} (${resolve ? "resolved" : "firing"})`, false);
    return refresh();
  });
}

function incidentAction(id, action) {
  return post(`/_emulator/pagerduty/incidents/${id}/${action}`, { user: ui.user }).then(refresh);
}

// An incident nobody paged through the bot: PagerDuty tells the bot by webhook, and the
// bot posts it with its own Acknowledge/Resolve buttons (which act here by REST API).
function openIncident(event) {
  event.preventDefault();
  const title = $("pd-title").value.trim();
  if (!title) { notice("Say what is wrong: the incident needs a title", true); return null; }
  return post("/_emulator/pagerduty/incidents", { title, user: ui.user }).then(refresh);
}

async function runCommand(event) {
  event.preventDefault();
  const input = $("composer-input");
  const line = input.value.trim();
  if (!line) return;
  if (!line.startsWith("/")) {
    notice("Only slash commands reach the bot here, e.g. /deploy api v1.4.0 staging", true);
    return;
  }
  const [command, ...rest] = line.split(/\s+/);
  const data = await post("/_emulator/command", { user: ui.user, channel: ui.channel, command, text: rest.join(" ") });
  if (data) {
    input.value = "";
    const answer = data.body && typeof data.body === "object" ? data.body.text : data.body;
    if (answer) notice(answer, false);
  }
  refresh();
}

// -- live updates ------------------------------------------------------------------

let fetching = null, again = false;
async function refresh() {
  // A change that lands while a fetch is under way is fetched once more after it.
  if (fetching) { again = true; return fetching; }
  fetching = fetch("/_emulator/state").then((r) => r.json()).then((state) => {
    ui.state = state;
    render();
  }).finally(() => {
    fetching = null;
    if (again) { again = false; refresh(); }
  });
  return fetching;
}

function listen() {
  const source = new EventSource("/_emulator/stream");
  source.onmessage = () => refresh();
  source.onerror = () => notice("Lost the connection to the sandbox; retrying\u2026", true);
  source.onopen = () => { if ($("notice").textContent.startsWith("Lost")) notice("", false); };
}

$("user-switcher").addEventListener("change", (event) => {
  ui.user = event.target.value;
  localStorage.setItem("sandbox.user", ui.user);
  ui.picker = null;
  render();
});
$("composer").addEventListener("submit", runCommand);
$("pd-open").addEventListener("submit", openIncident);
$("thread-close").addEventListener("click", () => { ui.thread = null; render(); });
refresh().then(listen);
