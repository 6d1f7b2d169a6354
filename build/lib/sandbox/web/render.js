// Rendering of sandbox messages (the control API's message objects) as Telegram-like bubbles.
// Pure DOM building: no state, no network. Callers pass a context with callbacks.

export const SERVICE_KINDS = new Set([
  "forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened",
  "pinned_message", "new_chat_members", "left_chat_member",
]);

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function time(unix) {
  const d = new Date(unix * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function day(unix) {
  const d = new Date(unix * 1000);
  return d.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" });
}

const COLORS = ["#e17076", "#7bc862", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774"];
export function colorOf(id) {
  const n = Math.abs(Number(String(id).replace(/\D/g, "")) || 0);
  return COLORS[n % COLORS.length];
}

export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter((p) => /\p{L}|\p{N}/u.test(p[0] || ""));
  return ((parts[0] || "?")[0] + (parts[1] ? parts[1][0] : "")).toUpperCase();
}

export function avatar(name, id, extra = "") {
  return h("div", { class: `avatar ${extra}`, style: `background:${colorOf(id)}`, "aria-hidden": "true" },
    initials(name));
}

export function topicColor(value) {
  return "#" + Number(value || 0x6fb9f0).toString(16).padStart(6, "0");
}

export function fileUrl(fileId) {
  return `/sandbox/files/${encodeURIComponent(fileId)}`;
}

function humanSize(n) {
  if (!n && n !== 0) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---------------------------------------------------------------- text with entities

function safeUrl(url) {
  const u = String(url || "");
  if (/^(https?:|mailto:|tel:|tg:)/i.test(u)) return u;
  if (/^[\w.-]+\.[a-z]{2,}/i.test(u)) return "https://" + u;
  return null;
}

function entityElement(e, slice, ctx) {
  switch (e.type) {
    case "bold": return h("b");
    case "italic": return h("i");
    case "underline": return h("u");
    case "strikethrough": return h("s");
    case "spoiler": {
      const el = h("span", { class: "spoiler", title: "Spoiler: click to reveal" });
      el.addEventListener("click", () => el.classList.add("revealed"));
      return el;
    }
    case "code": return h("code");
    case "pre": return h("pre", { class: "pre", "data-lang": e.language || null });
    case "blockquote": return h("blockquote");
    case "expandable_blockquote": return h("blockquote", { class: "expandable" });
    case "text_link": {
      const href = safeUrl(e.url);
      return href ? h("a", { href, target: "_blank", rel: "noopener", title: e.url }) : h("span");
    }
    case "url": {
      const href = safeUrl(slice);
      return href ? h("a", { href, target: "_blank", rel: "noopener" }) : h("span");
    }
    case "email": return h("a", { href: `mailto:${slice}` });
    case "phone_number": return h("a", { href: `tel:${slice.replace(/[^\d+]/g, "")}` });
    case "mention":
    case "text_mention": return h("span", { class: "mention" });
    case "hashtag":
    case "cashtag": return h("span", { class: "hashtag" });
    case "bot_command": {
      const el = h("a", { href: "#", class: "command", title: "Send this command" });
      if (ctx && ctx.onCommand) {
        el.addEventListener("click", (ev) => { ev.preventDefault(); ctx.onCommand(slice); });
      }
      return el;
    }
    default: return h("span", { class: `entity-${e.type}` });
  }
}

// Telegram offsets are UTF-16 code units, which is what JS strings index: slice() is exact.
function richRange(text, ents, start, end, ctx) {
  const frag = document.createDocumentFragment();
  const list = ents.slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
  let pos = start;
  list.forEach((e, i) => {
    if (e.offset < pos || e.length <= 0) return; // nested in one already drawn, or overlapping
    const eEnd = e.offset + e.length;
    if (e.offset > pos) frag.append(text.slice(pos, e.offset));
    const inner = list.filter((x, j) => j !== i && x.offset >= e.offset && x.offset + x.length <= eEnd);
    const el = entityElement(e, text.slice(e.offset, eEnd), ctx);
    el.append(richRange(text, inner, e.offset, eEnd, ctx));
    frag.append(el);
    pos = eEnd;
  });
  if (pos < end) frag.append(text.slice(pos, end));
  return frag;
}

export function rich(text, entities, ctx) {
  const t = String(text || "");
  const ents = (entities || []).filter((e) => e.offset >= 0 && e.offset + e.length <= t.length);
  return richRange(t, ents, 0, t.length, ctx);
}

// ---------------------------------------------------------------- media

function photoElement(sizes, label) {
  const largest = sizes[sizes.length - 1];
  const box = h("div", { class: "photo" });
  const img = h("img", { src: fileUrl(largest.file_id), alt: label || "photo", loading: "lazy" });
  if (largest.width && largest.height) img.style.aspectRatio = `${largest.width} / ${largest.height}`;
  img.addEventListener("load", () => {
    if (img.naturalWidth < 8 || img.naturalHeight < 8) {
      // The control API's placeholder image (1x1): show a frame instead of a dot.
      box.replaceChildren(h("div", { class: "photo-placeholder" }, "🖼 Photo"));
    }
  });
  img.addEventListener("click", () => window.open(img.src, "_blank", "noopener"));
  box.append(img);
  return box;
}

function documentElement(doc, icon = "📄") {
  const name = doc.file_name || "file";
  return h("a", { class: "document", href: fileUrl(doc.file_id), download: name, title: "Download" },
    h("span", { class: "doc-icon" }, icon),
    h("span", { class: "doc-meta" },
      h("span", { class: "doc-name" }, name),
      h("span", { class: "doc-size" }, [humanSize(doc.file_size), doc.mime_type].filter(Boolean).join(" · "))));
}

function mediaElement(c) {
  if (c.photo) return photoElement(c.photo, c.caption);
  if (c.document) return documentElement(c.document);
  if (c.video) return h("video", { class: "video", src: fileUrl(c.video.file_id), controls: true, preload: "none" });
  if (c.animation) return h("video", { class: "video", src: fileUrl(c.animation.file_id), autoplay: true, loop: true, muted: true });
  if (c.video_note) return h("video", { class: "video-note", src: fileUrl(c.video_note.file_id), controls: true, preload: "none" });
  if (c.voice) return h("div", { class: "voice" }, "🎤 ", h("audio", { src: fileUrl(c.voice.file_id), controls: true, preload: "none" }));
  if (c.audio) return h("div", { class: "voice" }, `🎵 ${c.audio.title || c.audio.file_name || "audio"} `, h("audio", { src: fileUrl(c.audio.file_id), controls: true, preload: "none" }));
  if (c.sticker) return c.sticker.is_animated || c.sticker.is_video
    ? h("div", { class: "sticker-emoji" }, c.sticker.emoji || "🙂")
    : h("img", { class: "sticker", src: fileUrl(c.sticker.file_id), alt: c.sticker.emoji || "sticker" });
  if (c.location) {
    const { latitude: la, longitude: lo } = c.location;
    return h("a", { class: "location", target: "_blank", rel: "noopener",
      href: `https://www.openstreetmap.org/?mlat=${la}&mlon=${lo}#map=15/${la}/${lo}` }, `📍 ${la.toFixed(5)}, ${lo.toFixed(5)}`);
  }
  if (c.venue) return h("div", { class: "location" }, `📍 ${c.venue.title} — ${c.venue.address}`);
  if (c.contact) return h("div", { class: "contact" }, `👤 ${[c.contact.first_name, c.contact.last_name].filter(Boolean).join(" ")} · ${c.contact.phone_number}`);
  if (c.dice) return h("div", { class: "sticker-emoji" }, `${c.dice.emoji} ${c.dice.value}`);
  if (c.poll) return h("div", { class: "poll" }, h("b", {}, `📊 ${c.poll.question}`),
    h("ul", {}, (c.poll.options || []).map((o) => h("li", {}, o.text))));
  return null;
}

// ---------------------------------------------------------------- service messages

export function serviceText(msg, nameOf) {
  const c = msg.content || {};
  const who = nameOf(msg.sender);
  if (c.forum_topic_created) return `${who} created the topic «${c.forum_topic_created.name}»`;
  if (c.forum_topic_edited) {
    return c.forum_topic_edited.name !== undefined
      ? `${who} renamed the topic to «${c.forum_topic_edited.name}»` : `${who} changed the topic icon`;
  }
  if (c.forum_topic_closed) return `${who} closed the topic`;
  if (c.forum_topic_reopened) return `${who} reopened the topic`;
  if (c.pinned_message) {
    const p = c.pinned_message;
    const snippet = (p.text || p.caption || "a message").slice(0, 40);
    return `${who} pinned «${snippet}»`;
  }
  if (c.new_chat_members) return `${who} added ${c.new_chat_members.map((u) => u.first_name).join(", ")}`;
  if (c.left_chat_member) return `${c.left_chat_member.first_name} left the group`;
  return `${who}: ${msg.kind}`;
}

export function isService(msg) {
  return msg.service || SERVICE_KINDS.has(msg.kind);
}

// ---------------------------------------------------------------- keyboards

function inlineButton(btn, msg, ctx) {
  const label = btn.text;
  if (btn.url || btn.login_url) {
    const href = safeUrl(btn.url || btn.login_url.url);
    return h("a", { class: "ikb-btn url", href: href || "#", target: "_blank", rel: "noopener",
      title: btn.url || btn.login_url.url }, label, h("span", { class: "ikb-corner" }, "↗"));
  }
  if (btn.callback_data !== undefined) {
    const el = h("button", { class: "ikb-btn", type: "button", "data-callback": btn.callback_data }, label);
    el.addEventListener("click", () => ctx.onPress && ctx.onPress(msg, btn, el));
    return el;
  }
  if (btn.copy_text) {
    const el = h("button", { class: "ikb-btn", type: "button", title: "Copies text" }, label, h("span", { class: "ikb-corner" }, "⧉"));
    el.addEventListener("click", () => ctx.onCopy && ctx.onCopy(btn.copy_text.text));
    return el;
  }
  if (btn.web_app) {
    return h("a", { class: "ikb-btn url", href: safeUrl(btn.web_app.url) || "#", target: "_blank", rel: "noopener",
      title: "Web App (opened as a plain page)" }, label, h("span", { class: "ikb-corner" }, "⧉"));
  }
  const why = btn.switch_inline_query !== undefined || btn.switch_inline_query_current_chat !== undefined
    || btn.switch_inline_query_chosen_chat ? "inline mode is not simulated by the sandbox"
    : btn.pay ? "payments are not simulated by the sandbox" : "not simulated by the sandbox";
  return h("button", { class: "ikb-btn", type: "button", disabled: true, title: why }, label);
}

function inlineKeyboard(markup, msg, ctx) {
  const rows = (markup && markup.inline_keyboard) || [];
  if (!rows.length) return null;
  return h("div", { class: "ikb", role: "group", "aria-label": "Inline keyboard" },
    rows.map((row) => h("div", { class: "ikb-row" }, row.map((b) => inlineButton(b, msg, ctx)))));
}

// ---------------------------------------------------------------- a message

// ctx: { own(msg) -> bool, showSender: bool, nameOf(sender), lookup(chatId, mid),
//        onPress(msg, btn, el), onCommand(text), onCopy(text), onEdit(msg), onDelete(msg) }
export function renderMessage(msg, ctx) {
  const key = `${msg.chat_id}:${msg.message_id}`;
  if (isService(msg)) {
    return h("div", { class: "service", "data-key": key, "data-mid": msg.message_id, "data-testid": "service" },
      h("span", {}, serviceText(msg, ctx.nameOf)));
  }
  const c = msg.content || {};
  const own = ctx.own(msg);
  const bubble = h("div", { class: "bubble" });
  if (ctx.showSender && !own) {
    bubble.append(h("div", { class: "sender", style: `color:${colorOf(msg.sender === "bot" ? 0 : msg.sender)}` },
      ctx.nameOf(msg.sender), msg.sender === "bot" ? h("span", { class: "badge-bot" }, "bot") : null));
  }
  if (msg.forward_origin) {
    const o = msg.forward_origin;
    const from = o.sender_user ? [o.sender_user.first_name, o.sender_user.last_name].filter(Boolean).join(" ")
      : o.sender_user_name || (o.chat && o.chat.title) || "someone";
    bubble.append(h("div", { class: "forwarded" }, `Forwarded from ${from}`));
  }
  if (msg.reply_to_message_id) {
    const target = ctx.lookup(msg.chat_id, msg.reply_to_message_id);
    if (target && !target.deleted && !isService(target)) {
      const tc = target.content || {};
      bubble.append(h("div", { class: "quote" },
        h("div", { class: "quote-name" }, ctx.nameOf(target.sender)),
        h("div", { class: "quote-text" }, (target.text || (tc.photo ? "🖼 Photo" : tc.document ? "📄 " + (tc.document.file_name || "File") : target.kind)).slice(0, 90))));
    }
  }
  const media = mediaElement(c);
  if (media) bubble.append(media);
  const text = c.text !== undefined ? c.text : c.caption;
  const entities = c.text !== undefined ? c.entities : c.caption_entities;
  if (text) bubble.append(h("div", { class: "text" }, rich(text, entities, ctx)));
  else if (!media) bubble.append(h("div", { class: "text muted" }, `[${msg.kind}]`));

  const meta = h("span", { class: "meta" });
  if (msg.edit_date) meta.append(h("span", { class: "edited", title: `edited at ${time(msg.edit_date)}` }, "edited"));
  meta.append(h("time", { datetime: new Date(msg.date * 1000).toISOString() }, time(msg.date)));
  if (own && msg.chat_id > 0) meta.append(h("span", { class: "ticks", title: "delivered" }, "✓✓"));
  bubble.append(meta);

  if (own && (ctx.onEdit || ctx.onDelete)) {
    const tools = h("span", { class: "msg-tools" });
    if (ctx.onEdit && (c.text !== undefined || c.caption !== undefined || msg.kind !== "text")) {
      tools.append(h("button", { class: "tool", title: "Edit", type: "button", onclick: () => ctx.onEdit(msg) }, "✎"));
    }
    if (ctx.onDelete) tools.append(h("button", { class: "tool", title: "Delete", type: "button", onclick: () => ctx.onDelete(msg) }, "🗑"));
    bubble.append(tools);
  }

  const row = h("div", {
    class: `msg ${own ? "out" : "in"}${media && !text && (c.photo || c.video || c.animation || c.sticker) ? " media-only" : ""}`,
    "data-key": key, "data-mid": msg.message_id, "data-testid": "message",
    "data-from": msg.sender === "bot" ? "bot" : String(msg.sender),
  });
  if (ctx.showSender && !own) {
    row.append(msg.sender === "bot" ? h("div", { class: "avatar small bot", "aria-hidden": "true" }, "🤖")
      : avatar(ctx.nameOf(msg.sender), msg.sender, "small"));
  }
  const col = h("div", { class: "msg-col" }, bubble);
  const kb = inlineKeyboard(msg.reply_markup, msg, ctx);
  if (kb) col.append(kb);
  if (msg.bot_reaction && msg.bot_reaction.length) {
    col.append(h("div", { class: "reactions" }, msg.bot_reaction.map((r) => h("span", { class: "reaction" }, r.emoji || "★"))));
  }
  row.append(col);
  return row;
}

export function version(msg) {
  return [msg.history ? msg.history.length : 0, msg.edit_date || 0, msg.deleted ? 1 : 0,
    JSON.stringify(msg.bot_reaction || null)].join("|");
}

// Keyed reconciliation: reuses the elements of messages that did not change, keeps order.
export function renderList(container, items, chatKey = "") {
  const scroller = container.parentElement;
  const switched = container.dataset.chat !== chatKey;
  container.dataset.chat = chatKey;
  const nearBottom = switched || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const existing = new Map();
  for (const el of container.children) existing.set(el.dataset.key, el);
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
  if (nearBottom) scroller.scrollTop = scroller.scrollHeight;
}

// Messages -> list items with day separators (deleted ones are gone, as in Telegram).
export function chatItems(msgs, ctx) {
  const items = [];
  let lastDay = null;
  for (const m of msgs) {
    if (m.deleted) continue;
    const d = day(m.date);
    if (d !== lastDay) {
      items.push({ key: `day:${d}`, ver: "1", build: () => h("div", { class: "day" }, h("span", {}, d)) });
      lastDay = d;
    }
    let ver = version(m);
    if (m.reply_to_message_id) {
      const t = ctx.lookup(m.chat_id, m.reply_to_message_id);
      ver += "|" + (t ? version(t) : "-");
    }
    items.push({ key: `${m.chat_id}:${m.message_id}`, ver, build: () => renderMessage(m, ctx) });
  }
  return items;
}
