// The sandbox page: customers chatting with the bot, the staff forum group, the backend panel.
// State lives here; the sandbox's control API (/sandbox/...) is the only source of truth, and
// its event stream (/sandbox/events, SSE) keeps the page live without reloads.

import { avatar, chatItems, h, renderList, topicColor } from "./render.js";
import { initBackend } from "./backend.js";

const STAFF_STATUSES = new Set(["creator", "administrator", "member", "restricted"]);
const ACTIONS = {
  typing: "typing…", upload_photo: "sending a photo…", upload_document: "sending a file…",
  record_voice: "recording a voice message…", upload_video: "sending a video…", choose_sticker: "choosing a sticker…",
};

const S = {
  config: {},
  bot: null,
  users: new Map(), // id -> user
  chats: new Map(), // id -> chat (control API form)
  msgs: new Map(), // chat id -> Map(message id -> message)
  groupId: null,
  personaId: null,
  staffId: null,
  topicId: null, // null: the group's General topic
  topicPinned: false, // the topic was picked by hand (else it follows the selected customer)
  seen: new Map(), // "chat" or "chat:thread" -> last message id seen
  typing: new Map(), // "chat:thread" -> {action, until}
  kbUsed: new Map(), // chat id -> message id of a one-time reply keyboard already used
  loaded: false,
};

// ---------------------------------------------------------------- network

async function sb(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  let data = null;
  try { data = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) {
    const err = new Error((data && data.error) || `${r.status} ${r.statusText}`);
    err.status = r.status;
    err.data = data;
    throw err;
  }
  return data;
}

async function loadMessages(chatId) {
  try {
    return await sb("GET", `/sandbox/chats/${chatId}/messages`);
  } catch (e) {
    if (e.status === 404) return [];
    throw e;
  }
}

let loading = null;
let reload = null; // asked for while loading: runs once more after (it may have missed events)
async function loadAll({ fresh = false } = {}) {
  if (loading) {
    reload = { fresh: fresh || (reload && reload.fresh) };
    return loading;
  }
  loading = (async () => {
    const [config, bot, users, chats] = await Promise.all([
      fetch("/web/config").then((r) => (r.ok ? r.json() : {})).catch(() => ({})),
      sb("GET", "/sandbox/bot"),
      sb("GET", "/sandbox/users"),
      sb("GET", "/sandbox/chats"),
    ]);
    if (S.config.sandbox_boot && config && config.sandbox_boot !== S.config.sandbox_boot) {
      location.reload(); // the sandbox restarted: a new world, nothing here is valid any more
      return;
    }
    if (fresh) { S.msgs.clear(); S.users.clear(); S.chats.clear(); }
    S.config = config || {};
    S.bot = bot;
    for (const u of users) S.users.set(u.id, u);
    for (const c of chats) S.chats.set(c.id, c);
    const lists = await Promise.all(chats.map((c) => loadMessages(c.id)));
    lists.forEach((list) => list.forEach(upsert));
    pickGroup();
    if (!S.loaded) markAllSeen();
    if (!S.personaId || !S.users.has(S.personaId)) S.personaId = (personas()[0] || {}).id || null;
    const staff = staffMembers();
    if (!S.staffId || !staff.some((u) => u.id === S.staffId)) {
      S.staffId = staff.some((u) => u.id === S.config.staff_user_id) ? S.config.staff_user_id : (staff[0] || {}).id || null;
    }
    S.loaded = true;
    document.body.dataset.ready = "1";
    backend.refresh().catch(showError);
    render();
  })();
  try {
    await loading;
  } finally {
    loading = null;
    if (reload) {
      const again = reload;
      reload = null;
      loadAll(again).catch(showError);
    }
  }
}

function pickGroup() {
  const configured = S.config.staff_group_id;
  if (configured && S.chats.has(configured)) { S.groupId = configured; return; }
  const forum = [...S.chats.values()].find((c) => c.type === "supergroup" && c.is_forum && c.bot_status !== "left");
  S.groupId = forum ? forum.id : null;
}

async function refreshChat(chatId) {
  try { S.chats.set(chatId, await sb("GET", `/sandbox/chats/${chatId}`)); } catch { /* gone */ }
  render();
}

// ---------------------------------------------------------------- the store

function upsert(m) {
  let chat = S.msgs.get(m.chat_id);
  if (!chat) S.msgs.set(m.chat_id, (chat = new Map()));
  const old = chat.get(m.message_id);
  if (old) {
    if (old.deleted && !m.deleted) return false;
    if ((old.history || []).length > (m.history || []).length) return false;
  }
  chat.set(m.message_id, m);
  return true;
}

function messagesOf(chatId, filter) {
  const chat = S.msgs.get(chatId);
  if (!chat) return [];
  const out = [...chat.values()].filter((m) => !filter || filter(m));
  out.sort((a, b) => a.message_id - b.message_id);
  return out;
}

function lookup(chatId, mid) {
  const chat = S.msgs.get(chatId);
  return chat ? chat.get(mid) : undefined;
}

function nameOf(sender) {
  if (sender === "bot") return (S.bot && S.bot.first_name) || "Bot";
  const u = S.users.get(Number(sender));
  return u ? [u.first_name, u.last_name].filter(Boolean).join(" ") : `User ${sender}`;
}

function groupChat() {
  return S.groupId ? S.chats.get(S.groupId) : null;
}

function staffIds() {
  const g = groupChat();
  return new Set(g ? g.members.filter((m) => STAFF_STATUSES.has(m.status)).map((m) => m.user_id) : []);
}

function staffMembers() {
  const ids = staffIds();
  return [...S.users.values()].filter((u) => ids.has(u.id));
}

function personas() {
  const staff = staffIds();
  return [...S.users.values()].filter((u) => !staff.has(u.id)).sort((a, b) => a.id - b.id);
}

function threadOf(m) {
  return m.message_thread_id || null;
}

function topics() {
  const g = groupChat();
  return g ? (g.topics || []).filter((t) => !t.deleted) : [];
}

// The topic whose customer card names this Telegram user (the bot writes the id in the card).
function topicOfUser(uid) {
  if (!uid || !S.groupId) return null;
  const re = new RegExp(`(^|\\D)${uid}(\\D|$)`);
  const open = new Set(topics().map((t) => t.message_thread_id));
  let found = null;
  for (const m of messagesOf(S.groupId)) {
    if (m.sender === "bot" && !m.deleted && open.has(m.message_thread_id) && re.test(m.text || "")) {
      found = m.message_thread_id;
    }
  }
  return found;
}

function userOfTopic(tid) {
  if (!tid) return null;
  for (const m of messagesOf(S.groupId, (x) => x.message_thread_id === tid && x.sender === "bot")) {
    for (const u of personas()) {
      if (new RegExp(`(^|\\D)${u.id}(\\D|$)`).test(m.text || "")) return u;
    }
  }
  return null;
}

function currentTopic() {
  const tid = S.topicPinned ? S.topicId : topicOfUser(S.personaId) ?? S.topicId;
  return topics().some((t) => t.message_thread_id === tid) ? tid : null; // deleted: back to General
}

function seenKey(chatId, thread) {
  return thread === undefined ? String(chatId) : `${chatId}:${thread || 0}`;
}

function markAllSeen() {
  for (const [chatId, chat] of S.msgs) {
    for (const m of chat.values()) {
      const keys = [seenKey(chatId)];
      if (chatId === S.groupId) keys.push(seenKey(chatId, threadOf(m)));
      for (const k of keys) S.seen.set(k, Math.max(S.seen.get(k) || 0, m.message_id));
    }
  }
}

function unread(chatId, thread, notFrom) {
  const key = seenKey(chatId, thread);
  const seen = S.seen.get(key) || 0;
  return messagesOf(chatId, (m) => !m.deleted && m.message_id > seen && m.sender !== notFrom
    && (thread === undefined || threadOf(m) === (thread || null))).length;
}

// ---------------------------------------------------------------- live updates

let es = null;
function connect() {
  const live = document.getElementById("live");
  es = new EventSource("/sandbox/events");
  es.addEventListener("open", () => {
    live.dataset.state = "live";
    live.textContent = "live";
    loadAll().catch(showError);
  });
  es.addEventListener("error", () => {
    live.dataset.state = "reconnecting";
    live.textContent = "reconnecting…";
  });
  const on = (type, fn) => es.addEventListener(type, (ev) => {
    try { fn(JSON.parse(ev.data)); } catch (e) { console.error(type, e); }
  });
  on("message_created", (ev) => {
    upsert(ev.message);
    if (ev.message.sender === "bot") S.typing.delete(`${ev.chat_id}:${threadOf(ev.message) || 0}`);
    render();
  });
  on("message_edited", (ev) => { upsert(ev.message); render(); });
  on("message_deleted", (ev) => {
    const m = lookup(ev.chat_id, ev.message_id);
    if (m) { m.deleted = true; render(); }
  });
  on("message_reaction", (ev) => {
    const m = lookup(ev.chat_id, ev.message_id);
    if (m) { S.msgs.get(ev.chat_id).set(m.message_id, { ...m, bot_reaction: ev.reaction }); render(); }
  });
  for (const t of ["topic_created", "topic_edited", "topic_closed", "topic_reopened", "topic_deleted"]) {
    on(t, (ev) => {
      const chat = S.chats.get(ev.chat_id);
      if (!chat) return refreshChat(ev.chat_id);
      chat.topics = (chat.topics || []).filter((x) => x.message_thread_id !== ev.topic.message_thread_id);
      chat.topics.push(ev.topic);
      render();
    });
  }
  for (const t of ["user_created", "user_updated", "user_blocked", "user_unblocked"]) {
    on(t, (ev) => {
      S.users.set(ev.user.id, ev.user);
      if (!S.personaId && !staffIds().has(ev.user.id)) S.personaId = ev.user.id;
      render();
    });
  }
  on("chat_created", (ev) => { S.chats.set(ev.chat.id, ev.chat); pickGroup(); render(); });
  on("member_updated", (ev) => refreshChat(ev.chat_id));
  on("commands_set", () => sb("GET", "/sandbox/bot").then((b) => { S.bot = b; render(); }));
  on("chat_action", (ev) => {
    const key = `${ev.chat_id}:${ev.message_thread_id || 0}`;
    S.typing.set(key, { action: ev.action, until: Date.now() + 5000 });
    setTimeout(render, 5100);
    render();
  });
  on("reset", () => { S.personaId = null; S.topicId = null; S.topicPinned = false; loadAll({ fresh: true }).catch(showError); });
}

// ---------------------------------------------------------------- rendering

let frame = 0;
function render() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (!S.loaded) return;
    renderTop();
    renderPersonas();
    renderCustomer();
    renderStaff();
    backend.update();
  });
}

function renderTop() {
  const bot = S.bot || {};
  document.getElementById("bot-name").textContent = bot.username ? `@${bot.username}` : "the bot";
  const docs = document.getElementById("docs-link");
  if (S.config.docs_url) {
    docs.href = S.config.docs_url;
    docs.classList.remove("hidden");
  }
}

function typingText(chatId, thread) {
  const t = S.typing.get(`${chatId}:${thread || 0}`);
  if (!t || t.until < Date.now()) return null;
  return ACTIONS[t.action] || `${t.action.replace(/_/g, " ")}…`;
}

function renderPersonas() {
  const list = document.getElementById("personas");
  const items = personas().map((u) => {
    const last = messagesOf(u.id, (m) => !m.deleted).pop();
    const n = u.id === S.personaId ? 0 : unread(u.id, undefined, u.id);
    const preview = typingText(u.id) || (last ? (last.sender === "bot" ? "" : "You: ") + (last.text || `[${last.kind}]`) : (u.username ? `@${u.username}` : "no messages yet"));
    const status = u.deactivated ? "deleted account" : u.blocked_bot ? "blocked the bot" : null;
    const build = () => h("li", {
      class: `persona${u.id === S.personaId ? " active" : ""}`, "data-testid": "persona", "data-user-id": u.id,
      "aria-current": u.id === S.personaId ? "true" : null, tabindex: 0, role: "button",
      onclick: () => selectPersona(u.id),
      onkeydown: (e) => { if (e.key === "Enter") selectPersona(u.id); },
    },
    avatar(u.first_name, u.id),
    h("div", { class: "persona-body" },
      h("div", { class: "persona-top" },
        h("span", { class: "persona-name" }, nameOf(u.id)),
        h("span", { class: "lang" }, (u.language_code || "—").toUpperCase())),
      h("div", { class: "persona-sub" },
        status ? h("span", { class: "status-bad" }, status) : h("span", { class: "preview" }, preview.slice(0, 60)),
        n ? h("span", { class: "badge" }, n) : null)));
    return { key: `p:${u.id}`, ver: JSON.stringify([u, n, preview, status, u.id === S.personaId]), build };
  });
  renderFlat(list, items);
}

// Like renderList, without scrolling (for lists that are not chats).
function renderFlat(container, items) {
  const existing = new Map([...container.children].map((el) => [el.dataset.key, el]));
  let prev = null;
  for (const item of items) {
    let el = existing.get(item.key);
    if (!el || el.dataset.ver !== item.ver) {
      const fresh = item.build();
      fresh.dataset.key = item.key;
      fresh.dataset.ver = item.ver;
      if (el) el.replaceWith(fresh);
      el = fresh;
    }
    existing.delete(item.key);
    const want = prev ? prev.nextSibling : container.firstChild;
    if (want !== el) container.insertBefore(el, want);
    prev = el;
  }
  for (const el of existing.values()) el.remove();
}

function customerCtx() {
  const uid = S.personaId;
  return {
    own: (m) => m.sender !== "bot",
    showSender: false,
    nameOf,
    lookup,
    onPress: (m, btn, el) => press(uid, m, btn, el),
    onCommand: (text) => customerSend({ text }),
    onCopy: copyText,
    onEdit: (m) => editMessage(uid, m),
    onDelete: (m) => deleteMessage(uid, m),
  };
}

function renderCustomer() {
  const u = S.users.get(S.personaId);
  const box = document.getElementById("customer-messages");
  const title = document.getElementById("customer-title");
  const sub = document.getElementById("customer-sub");
  const av = document.getElementById("customer-avatar");
  const pane = document.getElementById("customer-pane");
  pane.classList.toggle("empty", !u);
  if (!u) {
    title.textContent = "No customer";
    sub.textContent = "create one on the left";
    box.replaceChildren();
    return;
  }
  title.textContent = nameOf(u.id);
  const status = u.deactivated ? "deleted account" : u.blocked_bot ? "blocked the bot" : null;
  sub.textContent = [typingText(u.id) ? `bot is ${typingText(u.id)}` : `chat with @${(S.bot || {}).username || "bot"}`,
    u.username ? `@${u.username}` : null, status].filter(Boolean).join(" · ");
  if (av.dataset.user !== String(u.id)) {
    const fresh = avatar(u.first_name, u.id);
    fresh.id = "customer-avatar";
    fresh.dataset.user = String(u.id);
    av.replaceWith(fresh);
  }
  document.getElementById("customer-lang").value = u.language_code || "en";
  document.getElementById("block-btn").textContent = u.blocked_bot ? "Unblock bot" : "Block bot";
  document.getElementById("account-btn").textContent = u.deactivated ? "Restore account" : "Delete account";

  const msgs = messagesOf(u.id);
  const ctx = customerCtx();
  const items = chatItems(msgs, ctx);
  if (!items.length) {
    const desc = (S.bot && (S.bot.descriptions || {})[u.language_code || ""]) || (S.bot && (S.bot.descriptions || {})[""]);
    items.push({
      key: "empty", ver: String(desc || ""), build: () => h("div", { class: "empty-chat" },
        h("div", { class: "empty-title" }, "What can this bot do?"),
        h("div", { class: "empty-text" }, desc || "This is a private chat with the bot. Press Start, or type a message."),
        h("button", { class: "primary start", type: "button", onclick: () => customerSend({ text: "/start" }) }, "START")),
    });
  }
  renderList(box, items, String(u.id));
  S.seen.set(seenKey(u.id), Math.max(S.seen.get(seenKey(u.id)) || 0, ...msgs.map((m) => m.message_id), 0));

  // Composer, or what Telegram shows instead of it.
  const composer = document.getElementById("customer-composer");
  const blocked = document.getElementById("customer-blocked");
  if (u.deactivated || u.blocked_bot) {
    composer.classList.add("hidden");
    blocked.classList.remove("hidden");
    const key = u.deactivated ? "deactivated" : "blocked";
    if (blocked.dataset.key !== `${u.id}:${key}`) {
      blocked.dataset.key = `${u.id}:${key}`;
      blocked.replaceChildren(...(u.deactivated
        ? [h("span", {}, "This Telegram account is deleted: the bot gets 403 “user is deactivated”."),
          h("button", { class: "primary", type: "button", onclick: () => userAction(u.id, "reactivate") }, "Restore account")]
        : [h("span", {}, "You blocked this bot: it gets 403 “bot was blocked by the user”."),
          h("button", { class: "ghost", type: "button", onclick: () => userAction(u.id, "unblock") }, "Unblock"),
          h("button", { class: "primary", type: "button", onclick: restartBot }, "Restart")]));
    }
  } else {
    composer.classList.remove("hidden");
    blocked.classList.add("hidden");
    blocked.dataset.key = "";
  }
  renderReplyKeyboard(u);
  renderCommandMenu(u);
}

function replyKeyboardOf(chatId) {
  let kb = null;
  for (const m of messagesOf(chatId, (x) => x.sender === "bot" && x.reply_markup)) {
    if (m.reply_markup.keyboard) kb = { markup: m.reply_markup, mid: m.message_id };
    else if (m.reply_markup.remove_keyboard) kb = null;
  }
  if (kb && S.kbUsed.get(chatId) === kb.mid) return null;
  return kb;
}

function renderReplyKeyboard(u) {
  const box = document.getElementById("reply-kb");
  const kb = u.blocked_bot || u.deactivated ? null : replyKeyboardOf(u.id);
  const input = document.getElementById("customer-input");
  input.placeholder = (kb && kb.markup.input_field_placeholder) || "Message";
  const key = kb ? `${u.id}:${kb.mid}` : "";
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.classList.toggle("hidden", !kb);
  if (!kb) { box.replaceChildren(); return; }
  box.replaceChildren(...kb.markup.keyboard.map((row) => h("div", { class: "rkb-row" }, row.map((b) => {
    const btn = typeof b === "string" ? { text: b } : b;
    return h("button", { class: "rkb-btn", type: "button", onclick: () => replyKeyboardPress(u, kb, btn) },
      btn.text, btn.request_contact ? " 📞" : btn.request_location ? " 📍" : "");
  }))));
}

async function replyKeyboardPress(u, kb, btn) {
  if (kb.markup.one_time_keyboard) S.kbUsed.set(u.id, kb.mid);
  if (btn.request_contact) {
    if (!confirm(`Share your phone number with @${S.bot.username}?`)) return;
    await customerSend({ kind: "contact", phone_number: "+10000000000", first_name: u.first_name });
  } else if (btn.request_location) {
    await customerSend({ kind: "location", latitude: 52.52, longitude: 13.405 });
  } else {
    await customerSend({ text: btn.text });
  }
  render();
}

function commandsFor(u) {
  const sets = (S.bot && S.bot.commands) || [];
  const lang = u.language_code || "";
  const rank = (s) => {
    const scope = s.scope || {};
    const langScore = s.language_code ? (s.language_code === lang ? 0 : 99) : 1;
    if (langScore === 99) return 99;
    if (scope.type === "chat" && Number(scope.chat_id) === u.id) return 0 + langScore;
    if (scope.type === "all_private_chats") return 2 + langScore;
    if (scope.type === "default") return 4 + langScore;
    return 99;
  };
  const best = sets.map((s) => [rank(s), s]).filter(([r]) => r < 99).sort((a, b) => a[0] - b[0])[0];
  return best ? best[1].commands : [];
}

function renderCommandMenu(u) {
  const cmds = commandsFor(u);
  const btn = document.getElementById("cmd-menu-btn");
  btn.hidden = !cmds.length;
  const menu = document.getElementById("cmd-menu");
  const key = JSON.stringify(cmds);
  if (menu.dataset.key === key) return;
  menu.dataset.key = key;
  menu.replaceChildren(...cmds.map((c) => h("button", { type: "button", class: "cmd", onclick: () => {
    menu.classList.add("hidden");
    customerSend({ text: `/${c.command}` });
  } }, h("b", {}, `/${c.command}`), h("span", {}, c.description))));
}

function staffCtx() {
  return {
    own: (m) => m.sender === S.staffId,
    showSender: true,
    nameOf,
    lookup,
    onPress: (m, btn, el) => press(S.staffId, m, btn, el),
    onCommand: (text) => staffSend({ text }),
    onCopy: copyText,
    onEdit: (m) => editMessage(S.staffId, m),
    onDelete: (m) => deleteMessage(S.staffId, m),
  };
}

function renderStaff() {
  const g = groupChat();
  const pane = document.getElementById("staff-pane");
  pane.classList.toggle("empty", !g);
  if (!g) {
    document.getElementById("group-title").textContent = "No staff group";
    document.getElementById("group-sub").textContent = "the bot is not in a forum supergroup";
    return;
  }
  document.getElementById("group-title").textContent = g.title || "Staff group";
  const tlist = topics();
  document.getElementById("group-sub").textContent = `${staffIds().size} staff · ${tlist.length} topic${tlist.length === 1 ? "" : "s"}`;

  // Who is acting
  const sel = document.getElementById("staff-select");
  const staff = staffMembers();
  const skey = JSON.stringify(staff.map((u) => [u.id, nameOf(u.id)]));
  if (sel.dataset.key !== skey) {
    sel.dataset.key = skey;
    sel.replaceChildren(...staff.map((u) => h("option", { value: u.id }, nameOf(u.id))));
  }
  if (S.staffId) sel.value = String(S.staffId);

  // Topics, most recent activity first; General on top as in Telegram.
  const tid = currentTopic();
  const lastOf = (thread) => messagesOf(S.groupId, (m) => !m.deleted && threadOf(m) === thread).pop();
  const rows = [{ message_thread_id: null, name: "General", icon_color: 0x8e8e93, general: true }]
    .concat(tlist.slice().sort((a, b) => ((lastOf(b.message_thread_id) || {}).message_id || b.message_thread_id)
      - ((lastOf(a.message_thread_id) || {}).message_id || a.message_thread_id)));
  const items = rows.map((t) => {
    const thread = t.message_thread_id;
    const last = lastOf(thread);
    const active = (thread || null) === (tid || null);
    const n = active ? 0 : unread(S.groupId, thread || null, S.staffId);
    const preview = typingText(S.groupId, thread) || (last ? `${last.sender === "bot" ? "bot" : nameOf(last.sender).split(" ")[0]}: ${last.text || `[${last.kind}]`}` : "");
    const ver = JSON.stringify([t, n, preview, active]);
    return {
      key: `t:${thread || 0}`, ver, build: () => h("li", {
        class: `topic${active ? " active" : ""}${t.closed ? " closed" : ""}`, "data-testid": "topic",
        "data-thread-id": thread || 0, role: "button", tabindex: 0, "aria-current": active ? "true" : null,
        onclick: () => selectTopic(thread || null),
        onkeydown: (e) => { if (e.key === "Enter") selectTopic(thread || null); },
      },
      h("span", { class: "topic-icon", style: `background:${topicColor(t.icon_color)}` }, t.general ? "#" : (t.name || "?")[0]),
      h("span", { class: "topic-body" },
        h("span", { class: "topic-name" }, t.name, t.closed ? h("span", { class: "lock", title: "closed" }, " 🔒") : null),
        h("span", { class: "topic-preview" }, preview.slice(0, 50))),
      n ? h("span", { class: "badge" }, n) : null),
    };
  });
  renderFlat(document.getElementById("topics"), items);

  // The selected topic
  const topic = tlist.find((t) => t.message_thread_id === tid);
  const head = document.getElementById("topic-head");
  const customer = topic ? userOfTopic(tid) : null;
  const hkey = JSON.stringify([tid, topic, customer && customer.id, S.personaId]);
  if (head.dataset.key !== hkey) {
    head.dataset.key = hkey;
    head.replaceChildren(...[
      h("span", { class: "topic-title" }, topic ? topic.name : "General", topic && topic.closed ? " 🔒" : ""),
      customer && customer.id !== S.personaId
        ? h("button", { class: "link", type: "button", onclick: () => selectPersona(customer.id) }, `open ${customer.first_name}'s chat`)
        : null,
      topic ? h("button", { class: "link", type: "button", title: "Close or reopen the forum topic as this staff member",
        onclick: () => topicAction(tid, topic.closed ? "reopen" : "close") }, topic.closed ? "reopen topic" : "close topic") : null,
    ].filter(Boolean));
  }
  const msgs = messagesOf(S.groupId, (m) => threadOf(m) === (tid || null));
  renderList(document.getElementById("staff-messages"), chatItems(msgs, staffCtx()), `${S.groupId}:${tid || 0}`);
  S.seen.set(seenKey(S.groupId, tid || null), Math.max(S.seen.get(seenKey(S.groupId, tid || null)) || 0, ...msgs.map((m) => m.message_id), 0));
  const closedForMe = topic && topic.closed && !(g.members.find((m) => m.user_id === S.staffId) || {}).status?.match(/creator|administrator/);
  document.getElementById("staff-input").placeholder = closedForMe ? "The topic is closed"
    : topic ? `Reply to ${customer ? customer.first_name : "the customer"} (or // note)` : "Message in General";
}

// ---------------------------------------------------------------- actions

function selectPersona(id) {
  S.personaId = id;
  S.topicPinned = false;
  render();
  backend.refresh().catch(showError);
}

function selectTopic(thread) {
  S.topicId = thread;
  S.topicPinned = true;
  render();
}

async function guarded(fn) {
  try { return await fn(); } catch (e) { showError(e); return null; }
}

async function customerSend(payload) {
  const uid = S.personaId;
  if (!uid) return null;
  return guarded(async () => {
    const r = await sb("POST", `/sandbox/users/${uid}/send`, payload);
    (r.messages || []).forEach(upsert);
    render();
    return r;
  });
}

async function staffSend(payload) {
  if (!S.groupId || !S.staffId) { toast("No staff member to act as", "error"); return null; }
  const tid = currentTopic();
  const body = { user_id: S.staffId, ...payload };
  if (tid) body.message_thread_id = tid;
  return guarded(async () => {
    const r = await sb("POST", `/sandbox/chats/${S.groupId}/send`, body);
    (r.messages || []).forEach(upsert);
    render();
    return r;
  });
}

async function press(userId, msg, btn, el) {
  el.classList.add("loading");
  el.disabled = true;
  try {
    const r = await sb("POST", `/sandbox/users/${userId}/press`, {
      message_id: msg.message_id, chat_id: msg.chat_id, callback_data: btn.callback_data,
    });
    let cb;
    try {
      cb = await sb("GET", `/sandbox/callbacks/${r.callback_query_id}/wait?timeout=15`);
    } catch (e) {
      if (e.status === 408) {
        toast("The bot did not answer the button press (no answerCallbackQuery in 15 s)", "error");
        return;
      }
      throw e;
    }
    const a = cb.answer || {};
    if (a.text) a.show_alert ? showAlert(a.text) : toast(a.text);
    if (a.url) window.open(a.url, "_blank", "noopener");
  } catch (e) {
    showError(e);
  } finally {
    el.classList.remove("loading");
    el.disabled = false;
  }
}

async function editMessage(userId, m) {
  const isText = m.content && m.content.text !== undefined;
  const now = prompt(isText ? "Edit message" : "Edit caption", m.text || "");
  if (now === null || now === (m.text || "")) return;
  await guarded(() => sb("POST", `/sandbox/users/${userId}/edit`, {
    message_id: m.message_id, chat_id: m.chat_id, [isText ? "text" : "caption"]: now,
  }));
}

async function deleteMessage(userId, m) {
  if (!confirm("Delete this message? (The bot is not told: Telegram sends no update for deletions.)")) return;
  await guarded(() => sb("POST", `/sandbox/users/${userId}/delete`, { message_id: m.message_id, chat_id: m.chat_id }));
}

async function userAction(uid, action) {
  await guarded(async () => S.users.set(uid, await sb("POST", `/sandbox/users/${uid}/${action}`)));
  render();
}

async function restartBot() {
  await userAction(S.personaId, "unblock");
  await customerSend({ text: "/start" });
}

async function topicAction(tid, action) {
  await guarded(() => sb("POST", `/sandbox/chats/${S.groupId}/topics/${tid}/${action}`, { user_id: S.staffId }));
}

function copyText(text) {
  navigator.clipboard?.writeText(text).then(() => toast("Copied"), () => toast(text));
}

async function fileMessage(file, caption) {
  const data = await new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(",", 2)[1] || "");
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
  const photo = /^image\/(jpeg|png|webp)$/.test(file.type);
  const payload = { kind: photo ? "photo" : "document", content_base64: data, file_name: file.name,
    mime_type: file.type || "application/octet-stream" };
  if (caption) payload.caption = caption;
  return payload;
}

// ---------------------------------------------------------------- feedback

function toast(text, kind = "info") {
  const el = h("div", { class: `toast ${kind}`, "data-testid": "toast", role: "status" }, text);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? 7000 : 4000);
}

function showAlert(text) {
  document.getElementById("alert-text").textContent = text;
  document.getElementById("alert-dialog").showModal();
}

function showError(e) {
  console.error(e);
  toast(e && e.message ? e.message : String(e), "error");
}

// ---------------------------------------------------------------- wiring

function wire() {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => {
      for (const t of document.querySelectorAll("[role=tab]")) {
        const on = t === tab;
        t.setAttribute("aria-selected", String(on));
        document.getElementById(`tab-${t.dataset.tab}`).classList.toggle("hidden", !on);
      }
      backend.refresh().catch(showError);
    });
  }

  document.getElementById("new-persona").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const body = Object.fromEntries([...new FormData(form)].filter(([, v]) => String(v).trim()).map(([k, v]) => [k, String(v).trim()]));
    const u = await guarded(() => sb("POST", "/sandbox/users", body));
    if (u) {
      S.users.set(u.id, u);
      form.reset();
      form.closest("details").open = false;
      selectPersona(u.id);
    }
  });

  const input = document.getElementById("customer-input");
  const send = async () => {
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    const r = await customerSend({ text });
    if (!r) input.value = text;
  };
  document.getElementById("customer-send").addEventListener("click", send);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); } });
  document.getElementById("customer-file").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    ev.target.value = "";
    if (!file) return;
    const caption = input.value.trim();
    input.value = "";
    await customerSend(await fileMessage(file, caption));
  });
  document.getElementById("cmd-menu-btn").addEventListener("click", () => document.getElementById("cmd-menu").classList.toggle("hidden"));
  document.getElementById("customer-lang").addEventListener("change", async (ev) => {
    const uid = S.personaId;
    if (uid) await guarded(async () => S.users.set(uid, await sb("PATCH", `/sandbox/users/${uid}`, { language_code: ev.target.value })));
    render();
  });
  document.getElementById("block-btn").addEventListener("click", () => {
    const u = S.users.get(S.personaId);
    if (u) userAction(u.id, u.blocked_bot ? "unblock" : "block");
  });
  document.getElementById("account-btn").addEventListener("click", () => {
    const u = S.users.get(S.personaId);
    if (!u) return;
    if (!u.deactivated && !confirm(`Delete ${u.first_name}'s Telegram account? The bot will get 403 "user is deactivated".`)) return;
    userAction(u.id, u.deactivated ? "reactivate" : "deactivate");
  });

  const sinput = document.getElementById("staff-input");
  const ssend = async (prefix = "") => {
    const text = sinput.value.trim();
    if (!text) { sinput.focus(); return; }
    sinput.value = "";
    const r = await staffSend({ text: prefix + text });
    if (!r) sinput.value = text;
  };
  document.getElementById("staff-send").addEventListener("click", () => ssend());
  document.getElementById("staff-note").addEventListener("click", () => ssend("// "));
  sinput.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ssend(); } });
  for (const b of document.querySelectorAll("#staff-tools [data-cmd]")) {
    b.addEventListener("click", () => staffSend({ text: b.dataset.cmd }));
  }
  document.getElementById("staff-file").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    ev.target.value = "";
    if (!file) return;
    const caption = sinput.value.trim();
    sinput.value = "";
    await staffSend(await fileMessage(file, caption));
  });
  document.getElementById("staff-select").addEventListener("change", (ev) => { S.staffId = Number(ev.target.value); render(); });
  document.getElementById("add-staff-btn").addEventListener("click", async () => {
    const name = prompt("Name of the new staff member", "Olga");
    if (!name || !S.groupId) return;
    await guarded(async () => {
      const u = await sb("POST", "/sandbox/users", { first_name: name, last_name: "(support)", language_code: "en" });
      S.users.set(u.id, u);
      await sb("POST", `/sandbox/chats/${S.groupId}/members`, { user_id: u.id, status: "administrator" });
      S.staffId = u.id;
      await refreshChat(S.groupId);
    });
  });
}

const backend = initBackend(document.getElementById("backend"), {
  state: S,
  persona: () => S.users.get(S.personaId) || null,
  sb,
  toast,
  showError,
  customerSend: (uid, payload) => sb("POST", `/sandbox/users/${uid}/send`, payload),
  isVisible: () => !document.getElementById("tab-backend").classList.contains("hidden"),
});

wire();
connect();
loadAll().catch(showError);
window.sandboxPage = S; // for debugging in the browser console
