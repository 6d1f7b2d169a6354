// The backend panel: what a shop, CRM or billing system does through the product's HTTP API.
// Every form maps to one real endpoint, called through the sandbox's same-origin pass-through
// (/web/api/...) with the sandbox API key. Forms are built from the API's own OpenAPI schema,
// so a form appears only when its endpoint exists and always matches its current fields.

import { h } from "./render.js";

// Curated actions, in the order of a customer's life. `match` finds the endpoint in the
// OpenAPI document (the first match is used); `after` reacts to a successful answer. Fields are
// prefilled from the selected customer (see autoValue) and the schema's examples.
const ACTIONS = [
  {
    id: "order", title: "Record an order",
    hint: "A purchase in your shop: loyalty points, tiers, the end of a win-back sequence.",
    match: (m, p) => m === "post" && /^\/v1\/orders$/.test(p),
  },
  {
    id: "balance", title: "Loyalty balance",
    hint: "Points, tier and what the next tier needs.",
    match: (m, p) => m === "get" && /^\/v1\/(customers\/\{[^/]+\}\/)?(loyalty|balance)(\/balance)?(\/\{[^/]+\})?$/.test(p),
  },
  {
    id: "nps", title: "Trigger an NPS survey",
    hint: "“How likely are you to recommend us, 0-10?” then “why?”. Answer it in the chat.",
    match: (m, p) => m === "post" && /^\/v1\/(surveys\/)?nps(\/(trigger|surveys|send))?$/.test(p),
  },
  {
    id: "exit", title: "Cancellation → exit interview",
    hint: "Tell the bot a customer cancelled: it asks why they leave (the answer decides the offer).",
    match: (m, p) => m === "post" && /exit/.test(p) && !/report|shipped|feature/.test(p),
  },
  {
    id: "segment-preview", title: "Who is in a segment",
    hint: "Counts a segment and shows the best prospects first (sends nothing). Kinds: GET /v1/segments.",
    match: (m, p) => m === "post" && /^\/v1\/segments\/preview$/.test(p),
    defaults: { kind: "all" },
  },
  {
    id: "segments", title: "Segments",
    hint: "The segment kinds and their default windows.",
    match: (m, p) => m === "get" && /^\/v1\/segments$/.test(p),
  },
  {
    id: "campaign", title: "Win-back campaign for a segment",
    hint: "The win-back playbook for a segment; the delivery worker sends at Telegram's limits. Sandbox "
      + "defaults: every customer (segment all), no holdout, no quiet hours, any hour of the day, so you see the message now; "
      + "in production use e.g. {\"kind\": \"dormant\", \"days\": 45} and a 0.1 holdout to measure uplift.",
    match: (m, p) => m === "post" && /^\/v1\/campaigns$/.test(p),
    defaults: {
      name: "Win-back (sandbox)", playbook: "winback", segment: { kind: "all" }, customer_external_ids: "",
      playbook_options: { promo_code: "COMEBACK10", discount_percent: 10 }, holdout: 0, quiet_hours: "off", send_window: "any",
      idempotency_key: undefined,
    },
    after: (B, data) => { if (data && data.id !== undefined) B.campaignId = data.id; },
  },
  {
    id: "message", title: "One personal message",
    hint: "A single proactive message to this customer (the same rules as a campaign).",
    match: (m, p) => m === "post" && /^\/v1\/messages$/.test(p),
    defaults: { templates: { en: "{name|Hi}, we've missed you! Anything we can help with?", ru: "{name|Здравствуйте}, давно вас не было! Можем чем-то помочь?" }, quiet_hours: "off" },
    after: (B, data) => { if (data && data.id !== undefined) B.campaignId = data.id; },
  },
  {
    id: "campaign-status", title: "Campaign status",
    hint: "Targeted, sent, skipped (and why), replies, conversions against the holdout.",
    match: (m, p) => m === "get" && /^\/v1\/campaigns\/\{[^/]+\}(\/(status|stats|report|results))?$/.test(p),
  },
  {
    id: "campaign-recipients", title: "Campaign recipients",
    hint: "Where each targeted customer stands: queued, done, replied, purchased, skipped…",
    match: (m, p) => m === "get" && /^\/v1\/campaigns\/\{[^/]+\}\/recipients$/.test(p),
  },
  {
    id: "nps-report", title: "NPS report",
    hint: "%promoters − %detractors, by tier and by trigger.",
    match: (m, p) => m === "get" && /^\/v1\/surveys\/nps\/report$/.test(p),
  },
  {
    id: "exit-report", title: "Why people leave",
    hint: "Exit-interview reasons, the most requested missing features, saves.",
    match: (m, p) => m === "get" && /^\/v1\/exit-interviews\/report$/.test(p),
  },
];

const WANTED = {
  order: "POST /v1/orders", nps: "POST /v1/surveys/nps (trigger)", exit: "POST an exit-interview/cancellation event",
  campaign: "POST /v1/campaigns", "campaign-status": "GET /v1/campaigns/{id}", segments: "GET /v1/segments",
};

export function initBackend(root, deps) {
  const B = {
    spec: null, ops: [], error: null, customer: undefined, personaId: null, campaignId: null,
    forms: [], specLoading: null,
  };
  const cfg = () => deps.state.config || {};

  // ------------------------------------------------------------ HTTP

  async function call(method, path, body, headers = {}) {
    const init = { method: method.toUpperCase(), headers: { ...headers } };
    if (cfg().api_key) init.headers.Authorization = `Bearer ${cfg().api_key}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(`/web/api${path}`, init);
    const text = await r.text();
    let data = text;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: r.status, ok: r.ok, statusText: r.statusText, data };
  }

  async function loadSpec() {
    if (B.spec || !cfg().api_url) return;
    if (!B.specLoading) {
      B.specLoading = call("GET", "/openapi.json").then((r) => {
        if (!r.ok || !r.data || !r.data.paths) throw new Error(`openapi.json: ${r.status}`);
        B.spec = r.data;
        B.ops = [];
        for (const [path, item] of Object.entries(r.data.paths)) {
          for (const [method, op] of Object.entries(item)) {
            if (["get", "post", "put", "patch", "delete"].includes(method)) B.ops.push({ method, path, op });
          }
        }
        B.error = null;
      }).catch((e) => { B.error = e.message; }).finally(() => { B.specLoading = null; });
    }
    await B.specLoading;
  }

  // ------------------------------------------------------------ the selected customer

  function suggestedExternalId() {
    const p = deps.persona();
    if (B.customer && B.customer.external_id) return B.customer.external_id;
    return p ? `crm-${p.id}` : "crm-1";
  }

  async function findCustomer(telegramId) {
    let after = 0;
    for (let page = 0; page < 20; page++) {
      const r = await call("GET", `/v1/customers?limit=200&after=${after}`);
      if (!r.ok) return undefined;
      const hit = r.data.items.find((c) => c.telegram_id === telegramId);
      if (hit) return hit;
      if (r.data.next_after === null || r.data.next_after === undefined) return null;
      after = r.data.next_after;
    }
    return null;
  }

  async function refreshCustomer() {
    const p = deps.persona();
    B.personaId = p ? p.id : null;
    B.customer = p ? await findCustomer(p.id).catch(() => undefined) : null;
    renderCustomer();
    for (const f of B.forms) f.fillAuto();
  }

  async function linkPersona(ext) {
    const p = deps.persona();
    if (!p) return;
    const lang = ["en", "ru"].includes(p.language_code) ? p.language_code : undefined;
    let r = await call("PUT", `/v1/customers/${encodeURIComponent(ext)}`, { first_name: p.first_name, last_name: p.last_name || null, language: lang });
    if (!r.ok) throw new Error(`PUT /v1/customers/${ext}: ${r.status} ${JSON.stringify(r.data)}`);
    r = await call("POST", `/v1/customers/${encodeURIComponent(ext)}/link-token`);
    if (!r.ok) throw new Error(`link-token: ${r.status} ${JSON.stringify(r.data)}`);
    // The customer opens the deep link: in Telegram that sends "/start <token>" to the bot.
    await deps.customerSend(p.id, { text: r.data.start_command });
    for (let i = 0; i < 50; i++) {
      await new Promise((res) => setTimeout(res, 100));
      const c = await findCustomer(p.id);
      if (c && c.external_id === ext) { B.customer = c; break; }
    }
    renderCustomer();
    for (const f of B.forms) f.fillAuto(true);
    deps.toast(B.customer && B.customer.external_id === ext ? `${p.first_name} is now shop customer ${ext}` : "Link sent; the bot has not linked it yet");
  }

  // ------------------------------------------------------------ rendering

  const els = {};

  function build() {
    root.replaceChildren();
    if (!cfg().api_url) {
      root.append(h("div", { class: "card" }, h("p", {}, "This sandbox runs on its own: no product API is attached. "
        + "Start the product without BOT_TOKEN (make run) to get the backend panel.")));
      return;
    }
    const key = cfg().api_key || "";
    const keyShown = key ? `${key.split("_").slice(0, 2).join("_")}_…` : "(no key)";
    root.append(h("div", { class: "card api-card" },
      h("div", { class: "card-title" }, "Product HTTP API"),
      h("div", { class: "kv" }, h("span", {}, "URL"), h("code", {}, cfg().api_url)),
      h("div", { class: "kv" }, h("span", {}, "Key"), h("code", { title: "A sandbox key with every scope, made at start-up" }, keyShown),
        h("button", { class: "link", type: "button", onclick: () => navigator.clipboard?.writeText(key).then(() => deps.toast("API key copied"), () => deps.toast(key)) }, "copy")),
      h("div", { class: "links" },
        h("a", { href: cfg().docs_url || `${cfg().api_url}/docs`, target: "_blank", rel: "noopener" }, "API docs ↗"),
        h("a", { href: "/web/api/openapi.json", target: "_blank", rel: "noopener" }, "OpenAPI JSON ↗")),
      h("p", { class: "hint" }, "Each form below is one real API call with this key. Requests and answers are shown as sent.")));

    els.customer = h("div", { class: "card", id: "backend-customer" });
    root.append(els.customer);
    els.actions = h("div", { id: "backend-actions" });
    root.append(els.actions);
    els.console = h("div", { class: "card", id: "backend-console" });
    root.append(els.console);
    renderCustomer();
    renderActions();
    renderConsole();
  }

  function renderCustomer() {
    if (!els.customer) return;
    const p = deps.persona();
    if (!p) { els.customer.replaceChildren(h("div", { class: "card-title" }, "Customer"), h("p", { class: "hint" }, "Pick a customer on the Customers tab.")); return; }
    const c = B.customer;
    const key = JSON.stringify([p, c === undefined ? "?" : c]);
    if (els.customer.dataset.key === key) return;
    els.customer.dataset.key = key;
    const status = c === undefined ? "…" : c === null ? "Not known to the product yet (writes to the bot create the record)."
      : c.external_id ? `Shop customer “${c.external_id}” (#${c.id})` : `Known to the bot as customer #${c.id}; not linked to your shop yet.`;
    const warn = c && c.external_id ? null
      : "Link first: until then the forms below act on a shop customer this Telegram user is not tied to.";
    const extra = c ? [c.reachable ? "reachable" : `unreachable: ${c.unreachable_reason || "?"}`, c.opted_in ? "opted in" : "opted out"].join(" · ") : "";
    const draft = B.linkDraft && B.linkDraft.personaId === p.id ? B.linkDraft.value : null;
    const input = h("input", { name: "external_id", value: draft ?? suggestedExternalId(), pattern: "[A-Za-z0-9._:@\\-]{1,128}", "aria-label": "External id" });
    input.addEventListener("input", () => { B.linkDraft = { personaId: p.id, value: input.value }; });
    const form = h("form", { class: "inline-form", "data-testid": "link-form" }, input,
      h("button", { class: "primary", type: "submit" }, c && c.external_id ? "Link again" : "Link as shop customer"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const btn = form.querySelector("button");
      btn.disabled = true;
      try { await linkPersona(input.value.trim()); B.linkDraft = null; } catch (e) { deps.showError(e); } finally { btn.disabled = false; }
    });
    els.customer.replaceChildren(...[
      h("div", { class: "card-title" }, `Customer: ${[p.first_name, p.last_name].filter(Boolean).join(" ")}`),
      h("p", { class: "customer-status", "data-testid": "customer-status" }, status),
      extra ? h("p", { class: "hint" }, extra) : null,
      warn ? h("p", { class: "warn" }, warn) : null,
      h("p", { class: "hint" }, "Your systems address customers by their own id. Linking = PUT /v1/customers/{id}, "
        + "POST …/link-token, then the customer opens the link (/start <token>) in the chat."),
      form].filter(Boolean));
  }

  function renderActions() {
    if (!els.actions) return;
    els.actions.replaceChildren();
    B.forms = [];
    if (B.error) { els.actions.append(h("div", { class: "card error" }, `Could not read the API schema: ${B.error}`)); return; }
    if (!B.spec) { els.actions.append(h("div", { class: "card hint" }, "Loading the API schema…")); return; }
    const missing = [];
    const used = new Set();
    for (const a of ACTIONS) {
      const found = B.ops.filter((o) => !used.has(o) && a.match(o.method, o.path));
      if (!found.length) { if (WANTED[a.id]) missing.push(WANTED[a.id]); continue; }
      for (const o of found.slice(0, 1)) {
        used.add(o);
        const f = opForm(o, a);
        B.forms.push(f);
        els.actions.append(f.el);
      }
    }
    if (missing.length) {
      els.actions.append(h("p", { class: "hint", "data-testid": "missing-endpoints" },
        `Not in this build's API yet: ${missing.join(", ")}. Use “Any endpoint” below for what exists.`));
    }
  }

  function renderConsole() {
    if (!els.console || !B.spec) return;
    const sel = h("select", { "aria-label": "Endpoint" }, h("option", { value: "" }, "— pick an endpoint —"));
    const byTag = new Map();
    B.ops.forEach((o, i) => {
      const tag = (o.op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([i, o]);
    });
    for (const [tag, list] of byTag) {
      sel.append(h("optgroup", { label: tag }, list.map(([i, o]) => h("option", { value: i }, `${o.method.toUpperCase()} ${o.path}`))));
    }
    const slot = h("div");
    sel.addEventListener("change", () => {
      const o = B.ops[Number(sel.value)];
      B.forms = B.forms.filter((f) => !f.console);
      if (!o) { slot.replaceChildren(); return; }
      const f = opForm(o, { id: "console", title: o.op.summary || `${o.method.toUpperCase()} ${o.path}` }, true);
      f.console = true;
      B.forms.push(f);
      slot.replaceChildren(f.el);
    });
    els.console.replaceChildren(h("div", { class: "card-title" }, "Any endpoint"), sel, slot);
  }

  // ------------------------------------------------------------ OpenAPI -> form

  function deref(s) {
    let guard = 0;
    while (s && s.$ref && guard++ < 30) s = B.spec.components.schemas[s.$ref.split("/").pop()];
    return s || {};
  }

  function unwrap(schema) {
    const s = deref(schema);
    const variants = s.anyOf || s.oneOf;
    if (variants) {
      const real = variants.map(deref).filter((v) => v.type !== "null");
      const meta = { description: s.description, default: s.default, examples: s.examples, title: s.title };
      if (real.length > 1 && real.every((v) => ["string", "number", "integer", "boolean"].includes(v.type) && !v.enum)) {
        // e.g. an amount given as a JSON number or a decimal string: one text field.
        return { type: "scalar", types: real.map((v) => v.type), nullable: real.length < variants.length, ...meta };
      }
      if (real.length === 1) {
        return { ...real[0], nullable: true, description: s.description || real[0].description,
          default: s.default !== undefined ? s.default : real[0].default, examples: s.examples || real[0].examples, title: s.title || real[0].title };
      }
      return { ...s, complex: true };
    }
    if (s.allOf && s.allOf.length === 1) return { ...deref(s.allOf[0]), description: s.description, default: s.default };
    return s;
  }

  function fieldKind(s) {
    if (s.complex) return "json";
    if (s.enum || s.const !== undefined) return "enum";
    if (s.type === "boolean") return "bool";
    if (s.type === "integer" || s.type === "number") return "number";
    if (s.type === "array") {
      const it = unwrap(s.items || {});
      return ["string", "integer", "number"].includes(it.type) && !it.enum ? "list" : "json";
    }
    if (s.type === "object" || !s.type) return "json";
    return "text"; // string, scalar unions
  }

  function autoValue(name, s, B2, path = "") {
    const ext = suggestedExternalId();
    if (/^(customer_)?external_id$/.test(name)) return ext;
    if (/^(customer_)?external_ids$/.test(name)) return ext;
    const unique = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    if (name === "idempotency_key" || name === "Idempotency-Key") return `sandbox-${unique}`;
    if (name === "order_id") return `ord-${unique}`;
    if (name === "telegram_id") { const p = deps.persona(); return p ? String(p.id) : ""; }
    if (B2.campaignId !== null && (name === "campaign_id" || (name === "id" && /\/campaigns\//.test(path)))) {
      return String(B2.campaignId);
    }
    return undefined;
  }

  function exampleOf(name, s, bodyExample) {
    if (bodyExample && bodyExample[name] !== undefined) return bodyExample[name];
    if (s.default !== undefined && s.default !== null) return s.default;
    if (s.examples && s.examples.length) return s.examples[0];
    if (s.example !== undefined) return s.example;
    return undefined;
  }

  function toInput(value, kind) {
    if (value === undefined || value === null) return "";
    if (kind === "json") return JSON.stringify(value, null, 1);
    if (kind === "list") return Array.isArray(value) ? value.join(", ") : String(value);
    return String(value);
  }

  function makeField(f) {
    const { name, s, required, where } = f;
    const kind = fieldKind(s);
    const id = `f-${Math.random().toString(36).slice(2, 9)}`;
    let input;
    if (kind === "enum") {
      const values = s.enum || [s.const];
      input = h("select", { id }, required ? null : h("option", { value: "" }, "—"), values.map((v) => h("option", { value: String(v) }, String(v))));
    } else if (kind === "bool") {
      input = h("select", { id }, required ? null : h("option", { value: "" }, "—"), h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
    } else if (kind === "json") {
      input = h("textarea", { id, rows: 3, spellcheck: "false", placeholder: "JSON" });
    } else {
      input = h("input", {
        id, type: kind === "number" ? "number" : "text", step: kind === "number" ? (s.type === "integer" ? "1" : "any") : null,
        placeholder: kind === "list" ? "comma-separated" : s.format === "date-time" ? "2026-01-31T12:00:00Z" : s.format === "date" ? "2026-01-31" : "",
      });
    }
    input.name = name;
    input.dataset.where = where;
    input.dataset.kind = kind;
    input.addEventListener("input", () => { input.dataset.auto = "0"; });
    input.addEventListener("change", () => { input.dataset.auto = "0"; });
    const label = h("label", { for: id, class: "field", title: s.description || "" },
      h("span", { class: "fname" }, name, required ? h("span", { class: "req", title: "required" }, "*") : null,
        where !== "body" ? h("span", { class: "where" }, ` (${where})`) : null),
      input,
      s.description ? h("span", { class: "fdesc" }, s.description.length > 140 ? `${s.description.slice(0, 140)}…` : s.description) : null);
    return { label, input, kind, ...f };
  }

  function readField(f) {
    const raw = f.input.value;
    if (raw.trim() === "") return undefined;
    switch (f.kind) {
      case "number": return f.s.type === "integer" ? parseInt(raw, 10) : Number(raw);
      case "bool": return raw === "true";
      case "list": {
        const it = unwrap(f.s.items || {});
        return raw.split(",").map((x) => x.trim()).filter(Boolean).map((x) => (it.type === "string" ? x : Number(x)));
      }
      case "json":
        try { return JSON.parse(raw); } catch { throw new Error(`${f.name}: not valid JSON`); }
      case "text":
        if (f.s.type === "scalar" && !f.s.types.includes("string")) {
          return f.s.types.includes("boolean") && /^(true|false)$/.test(raw) ? raw === "true" : Number(raw);
        }
        return raw;
      case "enum": {
        const values = f.s.enum || [f.s.const];
        return values.find((v) => String(v) === raw);
      }
      default: return raw;
    }
  }

  function opForm(o, action, isConsole = false) {
    const { method, path, op } = o;
    const fields = [];
    for (const prm of op.parameters || []) {
      if (!["path", "query", "header"].includes(prm.in)) continue;
      fields.push({ name: prm.name, s: unwrap(prm.schema || {}), required: !!prm.required, where: prm.in, description: prm.description });
    }
    let bodySchema = null;
    let bodyExample = null;
    const content = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    if (content) {
      bodySchema = deref(content.schema);
      bodyExample = (bodySchema.examples && bodySchema.examples[0]) || content.example || null;
      const req = new Set(bodySchema.required || []);
      for (const [name, ps] of Object.entries(bodySchema.properties || {})) {
        fields.push({ name, s: unwrap(ps), required: req.has(name), where: "body" });
      }
    }
    const made = fields.map(makeField);
    const result = h("div", { class: "result", "data-testid": "result" });
    const sendBtn = h("button", { class: "primary", type: "submit" }, method === "get" ? "Get" : "Send");
    const form = h("form", { class: "op-form" },
      made.map((f) => f.label),
      h("div", { class: "op-actions" }, sendBtn, h("code", { class: "endpoint" }, `${method.toUpperCase()} ${path}`)));
    const el = h("div", { class: "card action", "data-testid": `action-${action.id}`, "data-endpoint": `${method.toUpperCase()} ${path}` },
      isConsole ? null : h("div", { class: "card-title" }, action.title),
      isConsole ? null : h("p", { class: "hint" }, action.hint || op.summary || ""),
      isConsole && op.description ? h("p", { class: "hint" }, op.description) : null,
      form, result);

    function fillAuto(force = false) {
      for (const f of made) {
        if (!force && f.input.dataset.auto === "0") continue;
        const d = action.defaults || {};
        let v = Object.prototype.hasOwnProperty.call(d, f.name) && d[f.name] !== undefined ? d[f.name] : autoValue(f.name, f.s, B, path);
        if (v === undefined && f.input.dataset.auto !== "1" && f.input.value === "") {
          // Examples only for required fields: optional ones may exclude each other.
          v = f.required ? exampleOf(f.name, f.s, bodyExample) : (f.s.default ?? undefined);
        }
        if (v === undefined) continue;
        f.input.value = toInput(v, f.kind);
        f.input.dataset.auto = "1";
      }
    }
    fillAuto(true);

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      let url = path;
      const query = new URLSearchParams();
      const headers = {};
      const body = {};
      try {
        for (const f of made) {
          const v = readField(f);
          if (v === undefined) continue;
          if (f.where === "path") url = url.replace(`{${f.name}}`, encodeURIComponent(v));
          else if (f.where === "query") (Array.isArray(v) ? v : [v]).forEach((x) => query.append(f.name, x));
          else if (f.where === "header") headers[f.name] = String(v);
          else body[f.name] = v;
        }
      } catch (e) { deps.showError(e); return; }
      if (/\{[^}]+\}/.test(url)) { deps.toast(`Fill in ${url.match(/\{([^}]+)\}/)[1]}`, "error"); return; }
      const qs = query.toString();
      sendBtn.disabled = true;
      result.replaceChildren(h("span", { class: "hint" }, "…"));
      try {
        const r = await call(method, url + (qs ? `?${qs}` : ""), content ? body : undefined, headers);
        result.replaceChildren(
          h("div", { class: `status s${String(r.status)[0]}xx`, "data-testid": "status" }, `${method.toUpperCase()} ${url}${qs ? `?${qs}` : ""} → ${r.status} ${r.statusText || ""}`),
          h("pre", {}, typeof r.data === "string" ? r.data : JSON.stringify(r.data, null, 2)));
        if (r.ok) {
          if (action.after) action.after(B, r.data);
          for (const g of B.forms) g.fillAuto();
          // New idempotency keys and order ids for the next call from this form.
          for (const f of made) if (/^(idempotency_key|Idempotency-Key|order_id)$/.test(f.name) && f.input.dataset.auto === "1") f.input.value = autoValue(f.name, f.s, B, path);
          if (/customers|link/.test(path)) refreshCustomer();
        }
      } catch (e) {
        deps.showError(e);
      } finally {
        sendBtn.disabled = false;
      }
    });
    return { el, fillAuto };
  }

  // ------------------------------------------------------------ public

  let builtFor = null;
  async function refresh() {
    if (!cfg().api_url) { if (builtFor !== "none") { builtFor = "none"; build(); } return; }
    if (builtFor !== cfg().api_key) {
      builtFor = cfg().api_key;
      build();
    }
    if (!B.spec) { await loadSpec(); renderActions(); renderConsole(); }
    const p = deps.persona();
    if (deps.isVisible() || (p && p.id !== B.personaId)) await refreshCustomer();
  }

  function update() {
    const p = deps.persona();
    if ((p ? p.id : null) !== B.personaId && deps.isVisible()) refresh().catch(deps.showError);
  }

  return { refresh, update, state: B, call };
}
