// The sandbox page: a small Slack client for the simulated workspace.
//
// It polls GET /api/state about once a second and sends what the person does to POST /api/<action>; the server
// turns each action into the signed request Slack would send the bot. All DOM is built with createElement and
// textContent (see el() and mrkdwn.js): no text from the bot or a user is ever parsed as HTML.
"use strict";

const POLL_MS = 1000;
const REQUIRED = "Please complete this required field.";

const S = {
  user: localStorage.getItem("sevbot.user") || "U0L1",
  channelByUser: JSON.parse(localStorage.getItem("sevbot.channels") || "{}"),
  state: null,
  keys: {},
  seen: {}, // user -> channel -> last ts seen (for unread marks)
  dismissed: new Set(), // ephemeral ts the user dismissed
  form: {}, // view id -> "block/action" -> value typed or picked, kept across views.update like Slack
  errors: {}, // view id -> block id -> message
  modalNotice: {}, // view id -> message shown at the top of the modal
  busy: false,
  pollTimer: null,
};

// ---- small helpers -------------------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k === "text") n.textContent = v;
    else if (k === "dataset") Object.assign(n.dataset, v);
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    n.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return n;
}

function $(id) { return document.getElementById(id); }

function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); return n; }

// Like Node.append, but skips null/false (append would write them as the text "null").
function put(parent, ...children) {
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) parent.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return parent;
}

async function api(path, body) {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify({ user: S.user, ...body }),
  });
  let data = {};
  try { data = await res.json(); } catch (e) { data = { ok: false, error: `HTTP ${res.status}` }; }
  if (!res.ok && data.ok === undefined) data.ok = false;
  return data;
}

function toast(text, kind) {
  const t = el("div", { class: "toast " + (kind || ""), role: "status", text });
  $("toasts").appendChild(t);
  setTimeout(() => t.remove(), 6000);
}

function user(id) { return (S.state && S.state.users.find((u) => u.id === id)) || null; }

function userName(id) {
  if (id === "USLACKBOT") return "Slackbot";
  const u = user(id);
  return u ? u.real_name : null;
}

const mctx = {
  userName,
  channelName: (id) => (S.state && S.state.channel_names[id]) || null,
  groupName: (id) => (S.state && S.state.usergroups[id]) || null,
  openChannel: (id) => selectChannel(id),
};

function md(text) { return Mrkdwn.render(text, mctx); }
function textObj(obj) { return Mrkdwn.textObject(obj, mctx); }

function utc(epoch, withSeconds) {
  const d = new Date(epoch * 1000);
  const pad = (x) => String(x).padStart(2, "0");
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` + (withSeconds ? `:${pad(d.getUTCSeconds())}` : "");
}

function utcDate(epoch) {
  const d = new Date(epoch * 1000);
  return d.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
}

function currentChannel() { return S.channelByUser[S.user] || "C0GENERAL"; }

function changed(key, value) {
  const json = JSON.stringify(value);
  if (S.keys[key] === json) return false;
  S.keys[key] = json;
  return true;
}

// ---- polling -------------------------------------------------------------------------------------------------
async function refresh() {
  clearTimeout(S.pollTimer);
  const seq = (S.seq = (S.seq || 0) + 1);
  try {
    const q = new URLSearchParams({ user: S.user, channel: currentChannel() });
    const state = await api("/api/state?" + q.toString());
    if (seq !== S.seq) return; // a newer poll (after a click or a channel switch) is on its way: this one is stale
    if (state.ok === false) throw new Error(state.error);
    S.state = state;
    $("offline").hidden = true;
  } catch (e) {
    $("offline").hidden = false;
    S.pollTimer = setTimeout(refresh, POLL_MS);
    return;
  }
  try {
    render();
  } catch (e) {
    console.error("render failed", e && e.stack ? e.stack : e);
  }
  S.pollTimer = setTimeout(refresh, POLL_MS);
}

function soon() { setTimeout(refresh, 150); setTimeout(refresh, 700); }

function render() {
  renderTop();
  renderSidebar();
  renderChannel();
  renderModal();
}

// ---- top bar: who am I, what time is it -----------------------------------------------------------------------
function renderTop() {
  const st = S.state;
  const sw = $("user-switch");
  const people = st.users.filter((u) => !u.is_bot && !u.deleted);
  if (changed("people", people)) {
    clear(sw);
    for (const u of people) sw.appendChild(el("option", { value: u.id, text: `${u.real_name}${u.title ? " · " + u.title : ""}` }));
  }
  sw.value = S.user;
  $("clock-time").textContent = `${utcDate(st.now)} ${utc(st.now, true)} UTC`;
  const mins = Math.round(st.offset_seconds / 60);
  $("clock-offset").textContent = mins ? `+${mins} min` : "real time";
  $("clock-offset").classList.toggle("shifted", mins > 0);
  $("alert-tools").hidden = !st.sample_alert;
}

// ---- sidebar: channels and DMs -------------------------------------------------------------------------------
function renderSidebar() {
  const st = S.state;
  const seen = (S.seen[S.user] = S.seen[S.user] || {});
  const first = !S.keys["seeded:" + S.user];
  if (first) {
    for (const c of [...st.channels, ...st.dms]) seen[c.id] = c.last_ts;
    S.keys["seeded:" + S.user] = "1";
  }
  const cur = currentChannel();
  if (st.channel) seen[cur] = st.channel.messages.length ? st.channel.messages[st.channel.messages.length - 1].ts : null;
  const view = { ch: st.channels, more: st.more_channels, dms: st.dms, cur, seen };
  if (!changed("sidebar", view)) return;
  // Items are updated in place (never rebuilt), so a click is never lost to a re-render.
  const fill = (list, channels, prefixOf) => {
    const existing = new Map([...list.children].map((li) => [li.dataset.id, li]));
    for (const c of channels) {
      let li = existing.get(c.id);
      if (!li) {
        li = el("li", { dataset: { id: c.id } },
          el("a", { href: "#", dataset: { id: c.id, name: c.name }, onclick: (e) => { e.preventDefault(); selectChannel(c.id); } },
            el("span", { class: "prefix" }), el("span", { class: "label" })));
      }
      existing.delete(c.id);
      const a = li.firstChild;
      const unread = c.id !== cur && c.last_ts && (!seen[c.id] || Number(c.last_ts) > Number(seen[c.id]));
      const isNew = !(c.id in seen);
      a.className = ["channel", c.id === cur ? "active" : "", unread || isNew ? "unread" : "", c.is_member === false ? "not-member" : ""].join(" ").trim();
      if (c.id === cur) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
      a.querySelector(".prefix").textContent = prefixOf(c);
      a.querySelector(".label").textContent = c.name;
      list.appendChild(li); // moves it into order
    }
    for (const li of existing.values()) li.remove();
  };
  fill($("channel-list"), st.channels, (c) => (c.is_private ? "🔒" : "#"));
  $("more-heading").hidden = !st.more_channels.length;
  fill($("more-channels"), st.more_channels, () => "#");
  fill($("dm-list"), st.dms, () => "🤖");
}

function selectChannel(id) {
  S.channelByUser[S.user] = id;
  localStorage.setItem("sevbot.channels", JSON.stringify(S.channelByUser));
  S.keys = Object.fromEntries(Object.entries(S.keys).filter(([k]) => k.startsWith("seeded:") || k === "people"));
  refresh();
  $("composer-input").focus();
}

// ---- the channel: messages, ephemerals, composer -------------------------------------------------------------
function renderChannel() {
  const ch = S.state.channel;
  const header = $("channel-header");
  if (!ch) {
    if (changed("channel", null)) {
      clear(header).appendChild(el("h1", { text: "Pick a channel" }));
      clear($("messages"));
    }
    return;
  }
  const ephemerals = ch.ephemerals.filter((e) => !S.dismissed.has(e.ts));
  const key = { ch, ephemerals, users: S.state.users };
  if (!changed("channel", key)) return;
  const pane = $("messages");
  const atBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 40;
  put(clear(header),
    el("h1", {}, ch.is_im ? el("span", { text: "🤖 sevbot" }) : el("span", { text: "#" + ch.name })),
    ch.topic ? el("div", { class: "topic" }, md(ch.topic)) : null,
    ch.is_im ? el("div", { class: "topic", text: "Direct messages with the sevbot app" })
      : el("div", { class: "members", text: `${ch.members.filter((m) => m !== "U0BOT").length} people${ch.members.includes("U0BOT") ? " + sevbot" : ""}` }),
  );
  const items = [...ch.messages, ...ephemerals].sort((a, b) => Number(a.ts) - Number(b.ts));
  clear(pane);
  if (!items.length) pane.appendChild(el("div", { class: "empty", text: ch.is_im ? "No messages yet. Try /incident help." : "No messages yet." }));
  let lastDay = null;
  // An unchanged message keeps its DOM node: a button being clicked is never swapped for a copy mid-click.
  const cache = new Map();
  const usersKey = JSON.stringify(S.state.users);
  for (const m of items) {
    const day = utcDate(Number(m.ts));
    if (day !== lastDay) { pane.appendChild(el("div", { class: "day", text: day })); lastDay = day; }
    const mkey = ch.id + usersKey + JSON.stringify(m);
    const node = (S.messageNodes && S.messageNodes.get(mkey)) || message(m, ch);
    cache.set(mkey, node);
    pane.appendChild(node);
  }
  S.messageNodes = cache;
  if (atBottom || S.keys.scrollFor !== ch.id) pane.scrollTop = pane.scrollHeight;
  S.keys.scrollFor = ch.id;
  renderComposer(ch);
}

function avatar(id) {
  const name = userName(id) || id;
  const hue = [...id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
  const n = el("div", { class: "avatar", text: id === "U0BOT" ? "🤖" : name.slice(0, 1).toUpperCase() });
  n.style.background = `hsl(${hue} 45% 45%)`; // CSSOM, which the page's CSP allows (style attributes it does not)
  return n;
}

function message(m, ch) {
  const who = m.user === "U0BOT" ? "sevbot" : userName(m.user) || m.user;
  const classes = ["msg", m.ephemeral ? "ephemeral" : "", m.pinned ? "pinned" : ""].join(" ");
  const body = el("div", { class: "body" },
    m.pinned ? el("div", { class: "pin-mark", text: "📌 Pinned" }) : null,
    el("div", { class: "meta" },
      el("span", { class: "name", text: who }),
      m.user === "U0BOT" ? el("span", { class: "app-badge", text: "APP" }) : null,
      el("span", { class: "time", title: new Date(Number(m.ts) * 1000).toISOString(), text: utc(Number(m.ts)) }),
      m.edited ? el("span", { class: "edited", text: "(edited)" }) : null,
    ),
    m.ephemeral ? el("div", { class: "only-you" }, "👁 Only visible to you · ",
      el("a", { href: "#", onclick: (e) => { e.preventDefault(); S.dismissed.add(m.ts); S.keys.channel = null; render(); }, text: "Dismiss" })) : null,
    content(m, { surface: "message", channel: ch.id, ts: m.ts, ephemeral: !!m.ephemeral }),
    m.files && m.files.length ? el("div", { class: "files" }, m.files.map(fileShare)) : null,
    m.reactions && m.reactions.length ? el("div", { class: "reactions" }, m.reactions.map((r) =>
      el("span", { class: "reaction", title: r.users.map((u) => userName(u) || u).join(", "), text: `${Mrkdwn.emojify(":" + r.name + ":")} ${r.count}` }))) : null,
    m.replies && m.replies.length ? el("div", { class: "thread" },
      el("div", { class: "thread-count", text: `${m.replies.length} ${m.replies.length === 1 ? "reply" : "replies"}` }),
      m.replies.map((r) => message(r, ch))) : null,
  );
  return el("div", { class: classes, dataset: { ts: m.ts, user: m.user } }, avatar(m.user), body);
}

// An image shows inline, as Slack shows it; any other file is a named attachment.
function fileShare(f) {
  const name = f.title || f.name;
  if (f.url && String(f.mimetype || "").startsWith("image/")) {
    return el("figure", { class: "file-image" },
      el("img", { src: `${f.url}?user=${encodeURIComponent(S.user)}`, alt: name, loading: "lazy" }),
      el("figcaption", { text: "🖼 " + name }));
  }
  return el("div", { class: "file", text: "📎 " + name });
}

function content(m, ctx) {
  if (m.blocks && m.blocks.length) return blocks(m.blocks, ctx);
  return el("div", { class: "text" }, md(m.text));
}

function renderComposer(ch) {
  const box = $("composer");
  const joinBar = $("join-bar");
  const member = ch.is_member;
  box.hidden = !member;
  joinBar.hidden = member;
  if (!member) {
    put(clear(joinBar),
      el("span", { text: `You are viewing #${ch.name}. ` }),
      el("button", { class: "btn primary", type: "button", text: "Join channel", onclick: async () => { await api("/api/join", { channel: ch.id }); soon(); } }),
    );
  }
  $("composer-input").placeholder = ch.is_im ? "Message sevbot (try /incident help)" : `Message #${ch.name} (try /incident help)`;
}

async function send(e) {
  e.preventDefault();
  const input = $("composer-input");
  const text = input.value;
  if (!text.trim() || S.busy) return;
  S.busy = true;
  input.disabled = true;
  try {
    const res = await api("/api/send", { channel: currentChannel(), text });
    if (res.ok === false && res.error && !/dispatch_failed|operation_timeout|not reachable/.test(res.error)) toast(res.error, "error");
    input.value = "";
  } finally {
    S.busy = false;
    input.disabled = false;
    input.focus();
    refresh();
  }
}

// ---- Block Kit -----------------------------------------------------------------------------------------------
function blocks(list, ctx) {
  const wrap = el("div", { class: "blocks" });
  for (const b of list) {
    const n = block(b, ctx);
    if (n) wrap.appendChild(n);
  }
  return wrap;
}

function block(b, ctx) {
  switch (b.type) {
    case "header":
      return el("div", { class: "b-header", dataset: { block: b.block_id || "" } }, Mrkdwn.plain(b.text));
    case "divider":
      return el("hr", { class: "b-divider" });
    case "section": {
      const main = el("div", { class: "b-section-main" },
        b.text ? sectionText(b, ctx) : null,
        b.fields ? el("div", { class: "b-fields" }, b.fields.map((f) => el("div", { class: "b-field" }, textObj(f)))) : null);
      return el("div", { class: "b-section", dataset: { block: b.block_id || "" } }, main,
        b.accessory ? el("div", { class: "b-accessory" }, element(b.accessory, b, ctx)) : null);
    }
    case "context":
      return el("div", { class: "b-context" }, (b.elements || []).map((e) =>
        e.type === "image" ? el("span", { class: "img-alt", text: "🖼 " + (e.alt_text || "") }) : el("span", {}, textObj(e))));
    case "actions":
      return el("div", { class: "b-actions", dataset: { block: b.block_id || "" } }, (b.elements || []).map((e) => element(e, b, ctx)));
    case "image":
      return el("div", { class: "b-image" }, b.title ? el("div", { class: "b-text" }, textObj(b.title)) : null,
        el("a", { href: /^https?:/i.test(b.image_url || "") ? b.image_url : "#", target: "_blank", rel: "noopener noreferrer", text: "🖼 " + (b.alt_text || "image") }));
    case "input":
      return inputBlock(b, ctx);
    case "rich_text":
      return el("div", { class: "b-text" }, richText(b.elements || []));
    case "file":
      return el("div", { class: "file", text: "📎 file " + (b.external_id || "") });
    default:
      return el("div", { class: "b-unknown", text: `[${b.type} block]` });
  }
}

// Slack shows a long section in a message folded, with "See more", unless the block says `expand: true`.
// Slack decides by rendered height; this folds what would run past about five lines here.
const FOLD_LINES = 5;
const FOLD_CHARS = 600;

function isLong(text) {
  const lines = String(text || "").split("\n");
  const wrapped = lines.reduce((n, line) => n + Math.max(1, Math.ceil(line.length / 110)), 0);
  return wrapped > FOLD_LINES || String(text || "").length > FOLD_CHARS;
}

function sectionText(b, ctx) {
  const text = el("div", { class: "b-text" }, textObj(b.text));
  if (ctx.surface !== "message" || b.expand === true || !isLong(b.text.text)) return text;
  const key = `${ctx.channel}/${ctx.ts}/${b.block_id || ""}`;
  S.expanded = S.expanded || new Set();
  if (S.expanded.has(key)) return text;
  text.classList.add("folded");
  const more = el("button", { type: "button", class: "see-more", text: "See more" });
  more.addEventListener("click", () => { S.expanded.add(key); text.classList.remove("folded"); more.remove(); });
  return el("div", {}, text, more);
}

function richText(elements) {
  const out = [];
  for (const part of elements) {
    if (part.elements) {
      const tag = part.type === "rich_text_preformatted" ? "pre" : part.type === "rich_text_quote" ? "blockquote" : part.type === "rich_text_list" ? "ul" : "div";
      out.push(el(tag, {}, richText(part.elements)));
    } else if (part.type === "text") {
      const style = part.style || {};
      let n = document.createTextNode(part.text || "");
      for (const [flag, tag] of [["code", "code"], ["bold", "b"], ["italic", "i"], ["strike", "s"]]) if (style[flag]) n = el(tag, {}, n);
      out.push(n);
    } else if (part.type === "link") {
      out.push(el("a", { href: /^https?:|^mailto:/i.test(part.url || "") ? part.url : "#", target: "_blank", rel: "noopener noreferrer", text: part.text || part.url }));
    } else if (part.type === "user") {
      out.push(el("span", { class: "mention", text: "@" + (userName(part.user_id) || part.user_id) }));
    } else if (part.type === "channel") {
      out.push(el("span", { class: "channel-link", text: "#" + (mctx.channelName(part.channel_id) || part.channel_id) }));
    } else if (part.type === "emoji") {
      out.push(document.createTextNode(Mrkdwn.emojify(`:${part.name}:`)));
    }
  }
  return out;
}

function optionsOf(e) {
  const opts = [...(e.options || [])];
  for (const g of e.option_groups || []) opts.push(...(g.options || []));
  return opts;
}

function selectOptions(e, placeholder) {
  const nodes = [el("option", { value: "", disabled: true, text: placeholder })];
  if (e.option_groups) {
    for (const g of e.option_groups) nodes.push(el("optgroup", { label: Mrkdwn.plain(g.label) }, (g.options || []).map((o) => el("option", { value: o.value, text: Mrkdwn.plain(o.text) }))));
  } else {
    for (const o of e.options || []) nodes.push(el("option", { value: o.value, text: Mrkdwn.plain(o.text) }));
  }
  return nodes;
}

function pickableUsers() {
  return S.state.users.filter((u) => !u.deleted).sort((a, b) => (a.is_bot - b.is_bot) || a.real_name.localeCompare(b.real_name));
}

// An interactive element. In a message, using it sends block_actions at once; in a modal, elements inside input
// blocks only change the form (unless the block has dispatch_action), and the rest send block_actions at once.
function element(e, b, ctx) {
  const inModal = ctx.surface === "modal";
  const fires = !inModal || b.type !== "input" || b.dispatch_action === true;
  const act = (value) => (inModal ? viewAction(ctx, b, e, value) : messageAction(ctx, b, e, value));
  const fkey = `${b.block_id}/${e.action_id}`;
  const formValue = inModal ? ctx.values[fkey] : undefined;
  const remember = (value) => { if (inModal) ctx.values[fkey] = value; }; // field errors stay until the next submit, as in Slack
  const id = `el-${ctx.surface}-${b.block_id}-${e.action_id}`.replace(/[^A-Za-z0-9_-]/g, "_");
  // Inside an input block the <label> names the element; elsewhere its placeholder does.
  const aria = (text) => (b.type === "input" ? null : text);
  switch (e.type) {
    case "button": {
      const btn = el("button", { type: "button", class: "btn " + (e.style || ""), dataset: { action: e.action_id || "" } }, Mrkdwn.plain(e.text));
      btn.addEventListener("click", async () => {
        if (e.url) window.open(e.url, "_blank", "noopener");
        if (e.confirm && !(await confirmDialog(e.confirm))) return;
        btn.disabled = true;
        try { await act(e.value === undefined ? null : e.value); } finally { btn.disabled = false; }
      });
      return btn;
    }
    case "static_select":
    case "external_select": {
      const sel = el("select", { id, class: "select", dataset: { action: e.action_id || "" }, "aria-label": aria(Mrkdwn.plain(e.placeholder) || "Select") }, selectOptions(e, Mrkdwn.plain(e.placeholder) || "Select an item"));
      sel.value = formValue ?? (e.initial_option ? e.initial_option.value : "");
      sel.addEventListener("change", () => { remember(sel.value || null); if (fires) act(sel.value); });
      return sel;
    }
    case "multi_static_select": {
      const sel = el("select", { id, multiple: true, class: "select multi", dataset: { action: e.action_id || "" } }, selectOptions(e, Mrkdwn.plain(e.placeholder) || "Select items").slice(1));
      const chosen = formValue ?? (e.initial_options || []).map((o) => o.value);
      for (const o of sel.options) o.selected = chosen.includes(o.value);
      sel.addEventListener("change", () => { const v = [...sel.selectedOptions].map((o) => o.value); remember(v); if (fires) act(v); });
      return sel;
    }
    case "users_select":
    case "multi_users_select": {
      const multi = e.type === "multi_users_select";
      const placeholder = Mrkdwn.plain(e.placeholder) || (multi ? "Select people" : "Select a person");
      const opts = pickableUsers().map((u) => el("option", { value: u.id, text: u.real_name + (u.is_bot ? " (app)" : "") }));
      const sel = el("select", { id, class: "select" + (multi ? " multi" : ""), multiple: multi, dataset: { action: e.action_id || "" }, "aria-label": aria(placeholder) },
        multi ? null : el("option", { value: "", disabled: true, text: placeholder }), opts);
      if (multi) {
        const chosen = formValue ?? e.initial_users ?? [];
        for (const o of sel.options) o.selected = chosen.includes(o.value);
      } else {
        sel.value = formValue ?? e.initial_user ?? "";
      }
      sel.addEventListener("change", () => {
        const v = multi ? [...sel.selectedOptions].map((o) => o.value) : sel.value || null;
        remember(v);
        if (fires) act(v);
      });
      return sel;
    }
    case "overflow": {
      const sel = el("select", { class: "select overflow", "aria-label": "More actions", dataset: { action: e.action_id || "" } }, selectOptions(e, "⋯"));
      sel.value = "";
      sel.addEventListener("change", () => { const v = sel.value; sel.value = ""; act(v); });
      return sel;
    }
    case "plain_text_input":
    case "number_input":
    case "email_text_input":
    case "url_text_input": {
      const attrs = { id, class: "text-input", placeholder: Mrkdwn.plain(e.placeholder) || null, dataset: { action: e.action_id || "" } };
      if (e.max_length) attrs.maxlength = e.max_length;
      if (e.min_length) attrs.minlength = e.min_length;
      const input = e.multiline ? el("textarea", { ...attrs, rows: 4 })
        : el("input", { ...attrs, type: { number_input: "number", email_text_input: "email", url_text_input: "url" }[e.type] || "text" });
      input.value = formValue ?? e.initial_value ?? "";
      input.addEventListener("input", () => remember(input.value));
      if (fires) input.addEventListener("change", () => act(input.value));
      return input;
    }
    case "datepicker":
    case "timepicker": {
      const input = el("input", { id, class: "text-input", type: e.type === "datepicker" ? "date" : "time", dataset: { action: e.action_id || "" } });
      input.value = formValue ?? e.initial_date ?? e.initial_time ?? "";
      input.addEventListener("change", () => { remember(input.value || null); if (fires) act(input.value || null); });
      return input;
    }
    case "checkboxes":
    case "radio_buttons": {
      const multi = e.type === "checkboxes";
      const initial = multi ? (e.initial_options || []).map((o) => o.value) : (e.initial_option ? [e.initial_option.value] : []);
      const chosen = formValue === undefined ? initial : multi ? formValue : formValue === null ? [] : [formValue];
      const group = el("div", { class: "choices", role: multi ? "group" : "radiogroup", id, dataset: { action: e.action_id || "" } });
      optionsOf(e).forEach((o, i) => {
        const oid = `${id}-${i}`;
        const box = el("input", { type: multi ? "checkbox" : "radio", id: oid, name: id, value: o.value });
        box.checked = chosen.includes(o.value);
        box.addEventListener("change", () => {
          const boxes = [...group.querySelectorAll("input")];
          const v = multi ? boxes.filter((x) => x.checked).map((x) => x.value) : box.value;
          remember(v);
          if (fires) act(v);
        });
        group.appendChild(el("div", { class: "choice" }, box,
          el("label", { for: oid }, textObj(o.text), o.description ? el("div", { class: "hint" }, textObj(o.description)) : null)));
      });
      return group;
    }
    case "image":
      return el("span", { class: "img-alt", text: "🖼 " + (e.alt_text || "") });
    default:
      return el("span", { class: "b-unknown", text: `[${e.type}]` });
  }
}

async function messageAction(ctx, b, e, value) {
  const res = await api("/api/click", {
    channel: ctx.channel, ts: ctx.ts, action_id: e.action_id, block_id: b.block_id || null,
    value: e.type === "button" ? null : value, ephemeral: ctx.ephemeral,
  });
  if (res.ok === false) toast("⚠ " + res.error, "error");
  soon();
}

async function viewAction(ctx, b, e, value) {
  const m = S.state.modal;
  const values = m && m.id === ctx.viewId ? collect(m).payload : {};
  const res = await api("/api/view_action", { view_id: ctx.viewId, block_id: b.block_id, action_id: e.action_id, value, values });
  if (res.ok === false) toast("⚠ " + res.error, "error");
  soon();
}

function confirmDialog(c) {
  return new Promise((resolve) => {
    const layer = $("confirm-layer");
    const done = (answer) => { clear(layer); layer.hidden = true; resolve(answer); };
    clear(layer).appendChild(el("div", { class: "dialog confirm", role: "alertdialog", "aria-modal": "true", "aria-label": Mrkdwn.plain(c.title) || "Are you sure?" },
      el("h2", { text: Mrkdwn.plain(c.title) || "Are you sure?" }),
      el("div", { class: "dialog-body" }, textObj(c.text)),
      el("div", { class: "dialog-footer" },
        el("button", { type: "button", class: "btn", onclick: () => done(false), text: Mrkdwn.plain(c.deny) || "Cancel" }),
        el("button", { type: "button", class: "btn " + (c.style === "danger" ? "danger" : "primary"), onclick: () => done(true), text: Mrkdwn.plain(c.confirm) || "Yes" }))));
    layer.hidden = false;
    layer.querySelector(".dialog-footer .btn:last-child").focus();
  });
}

// ---- modals --------------------------------------------------------------------------------------------------
function renderModal() {
  const layer = $("modal-layer");
  const m = S.state.modal;
  const key = m ? { id: m.id, hash: m.hash, depth: m.depth, errors: S.errors[m.id] || {}, notice: S.modalNotice[m.id] || "", users: S.state.users.length } : null;
  if (!changed("modal", key)) return;
  if (!m) {
    clear(layer);
    layer.hidden = true;
    return;
  }
  const v = m.view;
  const title = Mrkdwn.plain(v.title);
  const closeText = v.close ? Mrkdwn.plain(v.close) : "Cancel";
  const submitText = v.submit ? Mrkdwn.plain(v.submit) : null;
  // The frame (title, Cancel, Submit) is rebuilt only when it changes, so a click on Submit is never lost to a
  // re-render of the body that the bot's views.update caused a moment earlier.
  const frameKey = JSON.stringify([m.id, m.depth, title, closeText, submitText, v.callback_id]);
  let dialog = layer.querySelector(".dialog.modal");
  if (!dialog || dialog.dataset.frame !== frameKey) {
    clear(layer);
    const top = () => S.state.modal;
    dialog = el("div", { class: "dialog modal", role: "dialog", "aria-modal": "true", "aria-label": title, dataset: { view: m.id, callback: v.callback_id || "", frame: frameKey } },
      el("div", { class: "modal-head" },
        m.depth > 1 ? el("button", { type: "button", class: "icon back", "aria-label": "Back", text: "←", onclick: () => closeModal(top(), false) }) : null,
        el("h2", { text: title }),
        el("button", { type: "button", class: "icon close", "aria-label": "Close", text: "✕", onclick: () => closeModal(top(), true) })),
      el("form", { class: "modal-body", novalidate: true, onsubmit: (e) => { e.preventDefault(); submitModal(top()); } }),
      el("div", { class: "modal-foot" },
        el("button", { type: "button", class: "btn", text: closeText, onclick: () => closeModal(top(), top().depth <= 1) }),
        submitText ? el("button", { type: "button", class: "btn primary submit", text: submitText, onclick: () => submitModal(top()) }) : null));
    layer.appendChild(dialog);
  }
  layer.hidden = false;
  const focused = dialog.contains(document.activeElement) && document.activeElement.id ? document.activeElement.id : null;
  const values = (S.form[m.id] = S.form[m.id] || {});
  const ctx = { surface: "modal", viewId: m.id, values };
  const errors = S.errors[m.id] || {};
  const form = clear(dialog.querySelector(".modal-body"));
  put(form,
    S.modalNotice[m.id] ? el("div", { class: "modal-notice", role: "alert", text: S.modalNotice[m.id] }) : null,
    (v.blocks || []).map((b) => {
      const n = block(b, ctx);
      if (b.type === "input" && errors[b.block_id]) {
        n.appendChild(el("div", { class: "field-error", role: "alert", text: errors[b.block_id] }));
        n.classList.add("has-error");
      }
      return n;
    }));
  // After the bot updates the view, keep the caret where the person was typing.
  const again = focused && document.getElementById(focused);
  const firstInput = again || form.querySelector("input, textarea, select");
  if (firstInput && (again || !dialog.contains(document.activeElement))) firstInput.focus();
}

function inputBlock(b, ctx) {
  const e = b.element || {};
  const id = `el-${ctx.surface}-${b.block_id}-${e.action_id}`.replace(/[^A-Za-z0-9_-]/g, "_");
  return el("div", { class: "b-input", dataset: { block: b.block_id || "" } },
    el("label", { class: "input-label", for: id }, Mrkdwn.plain(b.label), b.optional ? el("span", { class: "optional", text: " (optional)" }) : null),
    element(e, b, ctx),
    b.hint ? el("div", { class: "hint" }, textObj(b.hint)) : null);
}

function elementValue(e, value) {
  if (value !== undefined) return value;
  switch (e.type) {
    case "static_select": case "radio_buttons": case "external_select": return e.initial_option ? e.initial_option.value : null;
    case "multi_static_select": case "checkboxes": return (e.initial_options || []).map((o) => o.value);
    case "users_select": return e.initial_user || null;
    case "multi_users_select": return e.initial_users || [];
    case "datepicker": return e.initial_date || null;
    case "timepicker": return e.initial_time || null;
    default: return e.initial_value ?? null;
  }
}

function isEmpty(v) { return v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length); }

// The form as Slack would send it ({block: {action: value}}), and what Slack's client itself refuses to send.
function collect(m) {
  const values = S.form[m.id] || {};
  const payload = {};
  const problems = {};
  for (const b of m.view.blocks || []) {
    if (b.type !== "input" || !b.element) continue;
    const e = b.element;
    let v = elementValue(e, values[`${b.block_id}/${e.action_id}`]);
    if (v === "") v = null; // an emptied text input is sent as null, like one never typed in
    // Slack's client checks these itself and never sends the form: required fields, and a text shorter than min_length.
    if (!b.optional && isEmpty(v)) problems[b.block_id] = REQUIRED;
    else if (typeof v === "string" && e.min_length && v.length < e.min_length) problems[b.block_id] = `Must be at least ${e.min_length} characters.`;
    payload[b.block_id] = { [e.action_id]: v };
  }
  return { payload, problems };
}

async function submitModal(m) {
  if (S.busy) return;
  const { payload, problems } = collect(m);
  S.modalNotice[m.id] = "";
  if (Object.keys(problems).length) {
    S.errors[m.id] = problems;
    S.keys.modal = null;
    renderModal();
    return;
  }
  S.busy = true;
  try {
    const res = await api("/api/submit", { view_id: m.id, values: payload });
    if (res.errors) {
      S.errors[m.id] = res.errors;
    } else if (res.ok === false) {
      S.modalNotice[m.id] = "We had some trouble connecting. Try again? (" + res.error + ")";
    } else {
      S.errors[m.id] = {};
    }
    S.keys.modal = null;
  } finally {
    S.busy = false;
    refresh();
  }
}

async function closeModal(m, wholeStack) {
  await api("/api/close", { view_id: m.id, whole_stack: wholeStack });
  S.keys.modal = null;
  refresh();
}

// ---- clock ---------------------------------------------------------------------------------------------------
async function fastForward(minutes) {
  const buttons = document.querySelectorAll("#clock button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const res = await api("/api/fast_forward", { minutes });
    if (res.ok === false) toast("⚠ " + res.error, "error");
    else toast(`⏩ Fast-forwarded ${minutes} min: sandbox time is now ${utc(res.now)} UTC` + (res.ran && res.ran.length ? ` (ran ${res.ran.join(", ")})` : ""));
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    refresh();
  }
}

// ---- the sandbox's sample alert (its Alertmanager posts it to the bot; the page never sees the token) ----------
async function sampleAlert(action) {
  const buttons = document.querySelectorAll("#alert-tools button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const res = await api("/api/alert", { action });
    if (res.ok === false) toast("⚠ " + res.error, "error");
    else toast((action === "fire" ? "🚨 " : "✅ ") + res.line + (res.channel ? ` · see #${(S.state && S.state.channel_names[res.channel]) || "alerts"}` : ""));
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    soon();
  }
}

// ---- start ---------------------------------------------------------------------------------------------------
function start() {
  $("user-switch").addEventListener("change", (e) => {
    S.user = e.target.value;
    localStorage.setItem("sevbot.user", S.user);
    S.keys = Object.fromEntries(Object.entries(S.keys).filter(([k]) => k.startsWith("seeded:") || k === "people"));
    refresh();
  });
  $("composer").addEventListener("submit", send);
  $("ff5").addEventListener("click", () => fastForward(5));
  $("ff15").addEventListener("click", () => fastForward(15));
  $("ff60").addEventListener("click", () => fastForward(60));
  $("alert-fire").addEventListener("click", () => sampleAlert("fire"));
  $("alert-resolve").addEventListener("click", () => sampleAlert("resolve"));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("confirm-layer").hidden) {
      const deny = $("confirm-layer").querySelector(".dialog-footer .btn");
      if (deny) deny.click();
    }
  });
  const params = new URLSearchParams(location.search);
  if (params.get("user")) S.user = params.get("user");
  refresh();
}

document.addEventListener("DOMContentLoaded", start);
