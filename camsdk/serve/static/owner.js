// The owner page of the camsdk gateway. Plain DOM, no framework, no inline script
// (the content security policy forbids it). Every value from the server is set with
// textContent, never parsed as HTML.
"use strict";

const state = { csrf: null, overview: null, masks: {}, approving: {}, editor: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

async function api(path, body) {
  const options = { method: body === undefined ? "GET" : "POST", credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRF-Token"] = state.csrf || "";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (response.status === 401 && path !== "/owner/api/login") showLogin();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function flash(text) {
  const node = document.getElementById("flash");
  node.textContent = text;
  node.classList.toggle("hidden", !text);
}

function showLogin() {
  document.getElementById("login").classList.remove("hidden");
  document.getElementById("app").classList.add("hidden");
  document.getElementById("logout-button").classList.add("hidden");
}

function showApp() {
  document.getElementById("login").classList.add("hidden");
  document.getElementById("app").classList.remove("hidden");
  document.getElementById("logout-button").classList.remove("hidden");
  document.getElementById("identity").textContent = "owner";
}

const when = (iso) => iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z") : "—";

// -- cameras -------------------------------------------------------------------------

function renderCameras(cameras) {
  const box = document.getElementById("cameras");
  const seen = new Set();
  for (const cam of cameras) {
    seen.add(cam.name);
    let card = box.querySelector(`[data-camera="${CSS.escape(cam.name)}"]`);
    if (!card) {
      card = el("div", { class: "card camera", "data-camera": cam.name },
        el("img", { alt: `${cam.name} thumbnail` }), el("h3", { text: cam.name }), el("div", { class: "health" }));
      box.append(card);
    }
    const health = card.querySelector(".health");
    health.replaceChildren(
      el("div", { class: `state-${cam.state}`, text: `${cam.state}${cam.error ? ": " + cam.error : ""}` }),
      el("div", { class: "muted", text: `${cam.vendor || ""} ${cam.model || ""} · ${cam.source} · ${cam.url}` }),
      el("div", { class: "muted", text: `viewers ${cam.viewers} · owner masks ${cam.owner_masks}` +
        (cam.record ? ` · footage: ${cam.footage.segments} segments, ${when(cam.footage.from)} to ${when(cam.footage.until)}` : " · footage not kept") }),
    );
  }
  for (const card of [...box.children]) if (!seen.has(card.dataset.camera)) card.remove();
}

function refreshThumbnails() {
  for (const img of document.querySelectorAll("#cameras img")) {
    const name = img.closest("[data-camera]").dataset.camera;
    img.src = `/owner/api/cameras/${encodeURIComponent(name)}/snapshot.jpg?t=${Date.now()}`;
  }
}

function renderFindings(findings) {
  const box = document.getElementById("findings");
  box.replaceChildren();
  if (!findings.length) box.append(el("p", { class: "muted", text: "Nothing found yet." }));
  for (const f of findings) {
    const name = el("input", { value: (f.name || "camera").toLowerCase().replace(/[^a-z0-9_-]+/g, "-").slice(0, 60), required: "" });
    const user = el("input", { placeholder: "user name" });
    const env = el("input", { placeholder: "password env variable" });
    const record = el("input", { type: "checkbox" });
    const form = el("form", { class: "card inline finding", "data-finding": f.finding_id },
      el("strong", { text: `${f.name || f.url} ` }), el("span", { class: "muted", text: `${f.vendor} ${f.model} ${f.url} (${f.source})` }), el("br"),
      el("label", { text: "Name " }, name), el("label", { text: "User " }, user),
      el("label", { text: "Password from " }, env), el("label", { text: "Keep footage " }, record),
      el("button", { type: "submit", class: "primary adopt-button", text: "Adopt" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("/owner/api/adopt", { finding_id: f.finding_id, name: name.value, username: user.value || null,
          password_env: env.value || null, record: record.checked });
        flash(`Adopted ${name.value}.`);
        await refresh();
      } catch (e) { flash(`Not adopted: ${e.message}`); }
    });
    box.append(form);
  }
}

// -- requests ------------------------------------------------------------------------

function toLocalInput(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
const fromLocalInput = (value) => new Date(value).toISOString();
// An untouched field sends the exact time asked for (the input keeps whole seconds only).
const timeOf = (input) => (input.value === input.dataset.shown ? input.dataset.iso : fromLocalInput(input.value));
function timeInput(cls, iso) {
  const input = el("input", { type: "datetime-local", step: "1", class: cls, value: toLocalInput(iso) });
  input.dataset.iso = iso;
  input.dataset.shown = input.value;
  return input;
}

function renderRequests(requests) {
  const box = document.getElementById("requests");
  const open = requests.filter((r) => r.state === "pending" || r.state === "needs_info");
  document.getElementById("pending-count").textContent = open.length ? String(open.length) : "";
  // Keep a request's form while the owner edits it: only redraw what changed.
  const shown = new Map([...box.children].map((n) => [n.dataset.id, n]));
  box.replaceChildren();
  if (!requests.length) box.append(el("p", { class: "muted", text: "No requests yet." }));
  for (const r of requests) {
    const key = `${r.request_id}:${r.state}:${r.replies.length}`;
    const old = shown.get(r.request_id);
    box.append(old && old.dataset.key === key ? old : requestCard(r, key));
  }
}

function requestCard(r, key) {
  const b = r.body;
  const card = el("div", { class: "card request", "data-id": r.request_id, "data-key": key, "data-state": r.state },
    el("h3", { text: `${b.requester_name} — ${b.purpose}` }),
    el("dl", {},
      el("dt", { text: "State" }), el("dd", { class: "request-state", text: r.state }),
      el("dt", { text: "Requester" }), el("dd", { class: "mono", text: r.principal }),
      el("dt", { text: "Cameras" }), el("dd", { text: r.cameras.join(", ") }),
      el("dt", { text: "Footage" }), el("dd", { text: `${when(b.footage_from)} to ${when(b.footage_until)} (${b.mode})` }),
      el("dt", { text: "Legal basis" }), el("dd", { text: b.legal_basis || "—" }),
      el("dt", { text: "Case reference" }), el("dd", { text: b.case_reference || "—" }),
      el("dt", { text: "Contact" }), el("dd", { text: b.contact }),
      el("dt", { text: "Received" }), el("dd", { text: when(r.received_at) }),
      r.note ? el("dt", { text: "Your note" }) : null, r.note ? el("dd", { text: r.note }) : null,
      r.replies.length ? el("dt", { text: "Replies" }) : null, r.replies.length ? el("dd", { text: r.replies.join(" / ") }) : null,
    ));
  if (r.state === "pending" || r.state === "needs_info") card.append(approveForm(r));
  return card;
}

function approveForm(r) {
  const b = r.body;
  state.masks[r.request_id] = state.masks[r.request_id] || {};
  const cams = r.cameras.map((name) => {
    const box = el("input", { type: "checkbox", checked: "", value: name, class: "approve-camera" });
    const count = el("span", { class: "mask-count muted", text: "" });
    const button = el("button", { type: "button", class: "mask-button", "data-camera": name, text: "Masks…",
      onclick: () => openMaskEditor(r.request_id, name, count) });
    return el("label", {}, box, ` ${name} `, button, count);
  });
  const from = timeInput("approve-from", b.footage_from);
  const until = timeInput("approve-until", b.footage_until);
  const mode = el("select", { class: "approve-mode" }, el("option", { value: "live", text: "live" }), el("option", { value: "recorded", text: "recorded" }));
  mode.value = b.mode;
  const defaultExpiry = new Date(Math.max(Date.now() + 3600e3, new Date(b.footage_until).getTime()));
  const expires = timeInput("approve-expires", defaultExpiry.toISOString());
  const note = el("input", { class: "approve-note", placeholder: "note or reason (the requester reads it)", size: "40" });
  const approve = el("button", { type: "button", class: "primary approve-button", text: "Approve" });
  const deny = el("button", { type: "button", class: "danger deny-button", text: "Deny" });
  const ask = el("button", { type: "button", class: "ask-button", text: "Ask for more" });
  approve.addEventListener("click", async () => {
    const chosen = cams.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    const masks = {};
    for (const name of chosen) if ((state.masks[r.request_id][name] || []).length) masks[name] = state.masks[r.request_id][name];
    try {
      await api(`/owner/api/requests/${r.request_id}/approve`, { cameras: chosen, mode: mode.value,
        footage_from: timeOf(from), footage_until: timeOf(until),
        expires_at: timeOf(expires), masks, note: note.value });
      flash(`Approved: grant signed for ${chosen.join(", ")}.`);
      await refresh();
    } catch (e) { flash(`Not approved: ${e.message}`); }
  });
  deny.addEventListener("click", async () => {
    try { await api(`/owner/api/requests/${r.request_id}/deny`, { note: note.value }); flash("Denied."); await refresh(); }
    catch (e) { flash(`Not denied: ${e.message}`); }
  });
  ask.addEventListener("click", async () => {
    try { await api(`/owner/api/requests/${r.request_id}/ask`, { question: note.value }); flash("Question sent."); await refresh(); }
    catch (e) { flash(`Not sent: ${e.message}`); }
  });
  return el("div", { class: "approve" },
    el("div", {}, el("strong", { text: "Cameras " }), ...cams),
    el("div", {}, el("label", { text: "Footage from " }, from), el("label", { text: "until " }, until),
      el("label", { text: "Mode " }, mode), el("label", { text: "Grant expires " }, expires)),
    el("div", {}, note, " ", approve, " ", deny, " ", ask));
}

// -- mask editor --------------------------------------------------------------------

function openMaskEditor(requestId, camera, counter) {
  const modal = document.getElementById("mask-editor");
  const img = document.getElementById("mask-image");
  const canvas = document.getElementById("mask-canvas");
  document.getElementById("mask-camera").textContent = camera;
  const masks = state.masks[requestId][camera] = state.masks[requestId][camera] || [];
  state.editor = { masks, current: [], counter, canvas };
  img.onload = () => { canvas.width = img.naturalWidth; canvas.height = img.naturalHeight; drawMasks(); };
  img.src = `/owner/api/cameras/${encodeURIComponent(camera)}/snapshot.jpg?t=${Date.now()}`;
  modal.classList.remove("hidden");
}

function drawMasks() {
  const { masks, current, canvas } = state.editor;
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  ctx.lineWidth = Math.max(2, w / 400);
  for (const mask of masks) {
    ctx.beginPath();
    mask.points.forEach(([x, y], i) => (i ? ctx.lineTo(x * w, y * h) : ctx.moveTo(x * w, y * h)));
    ctx.closePath();
    ctx.fillStyle = "rgba(0,0,0,0.85)";
    ctx.fill();
  }
  if (current.length) {
    ctx.beginPath();
    current.forEach(([x, y], i) => (i ? ctx.lineTo(x * w, y * h) : ctx.moveTo(x * w, y * h)));
    ctx.strokeStyle = "#ffcc00";
    ctx.stroke();
    for (const [x, y] of current) { ctx.fillStyle = "#ffcc00"; ctx.fillRect(x * w - 4, y * h - 4, 8, 8); }
  }
  state.editor.counter.textContent = masks.length ? `${masks.length} mask(s)` : "";
}

function setUpMaskEditor() {
  const canvas = document.getElementById("mask-canvas");
  canvas.addEventListener("click", (event) => {
    const rect = canvas.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
    const y = Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
    state.editor.current.push([Number(x.toFixed(4)), Number(y.toFixed(4))]);
    drawMasks();
  });
  document.getElementById("mask-close-polygon").addEventListener("click", () => {
    if (state.editor.current.length >= 3) {
      state.editor.masks.push({ points: state.editor.current, label: `mask ${state.editor.masks.length + 1}` });
      state.editor.current = [];
      drawMasks();
    }
  });
  document.getElementById("mask-undo").addEventListener("click", () => { state.editor.current.pop(); drawMasks(); });
  document.getElementById("mask-clear").addEventListener("click", () => {
    state.editor.masks.length = 0; state.editor.current = []; drawMasks();
  });
  document.getElementById("mask-done").addEventListener("click", () => {
    document.getElementById("mask-close-polygon").click();
    document.getElementById("mask-editor").classList.add("hidden");
  });
}

// -- sessions, grants, exports --------------------------------------------------------

async function revoke(grantId, what) {
  try { await api(`/owner/api/grants/${grantId}/revoke`, {}); flash(`${what}: grant revoked.`); await refresh(); }
  catch (e) { flash(`Not revoked: ${e.message}`); }
}

function renderSessions(sessions, grants, exports) {
  const body = document.querySelector("#sessions tbody");
  body.replaceChildren(...sessions.map((s) => el("tr", { class: "session", "data-grant": s.grant_id },
    el("td", { text: s.requester || s.principal }), el("td", { text: s.camera }),
    el("td", { text: `${s.kind}${s.transcoded ? " (masked, re-encoded)" : " (passthrough)"}` }),
    el("td", { text: when(s.started_at) }), el("td", { text: `${(s.bytes / 1e6).toFixed(1)} MB` }),
    el("td", {}, el("button", { class: "danger stop-button", text: "Stop", onclick: () => revoke(s.grant_id, "Stopped") })))));
  if (!sessions.length) body.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "Nobody is watching." })));
  const gbody = document.querySelector("#grants tbody");
  gbody.replaceChildren(...grants.map((g) => {
    const actions = el("td", {});
    if (g.status === "active") actions.append(el("button", { class: "danger revoke-button", text: "Revoke", onclick: () => revoke(g.grant_id, "Revoked") }));
    if (g.status === "active" && g.mode === "recorded") {
      for (const camera of g.cameras) actions.append(" ", el("button", { class: "export-button", text: `Export ${camera}`,
        onclick: async () => {
          try { await api("/owner/api/exports", { grant_id: g.grant_id, camera }); flash("Cutting the clip…"); await refresh(); }
          catch (e) { flash(`No clip: ${e.message}`); }
        } }));
    }
    return el("tr", { class: "grant", "data-grant": g.grant_id },
      el("td", { text: g.requester || g.principal }), el("td", { text: g.cameras.join(", ") }), el("td", { text: g.mode }),
      el("td", { text: `${when(g.footage_from)} to ${when(g.footage_until)}` }), el("td", { text: when(g.expires_at) }),
      el("td", { text: String(g.masks) }), el("td", { text: g.status }), actions);
  }));
  const ebody = document.querySelector("#exports tbody");
  ebody.replaceChildren(...exports.map((x) => el("tr", { class: "export" },
    el("td", { text: x.camera }), el("td", { class: "mono", text: x.principal }),
    el("td", { text: `${when(x.footage_from)} to ${when(x.footage_until)} (${x.footage_seconds}s${x.masked ? ", masked" : ""})` }),
    el("td", { text: x.state + (x.error ? `: ${x.error}` : "") }), el("td", { class: "mono", text: x.sha256.slice(0, 16) }),
    el("td", {}, ...(x.state === "ready" ? [
      el("a", { href: `/owner/api/exports/${x.export_id}/clip.mp4`, text: "clip" }), " · ",
      el("a", { href: `/owner/api/exports/${x.export_id}/manifest.json`, text: "manifest" }), " · "] : []),
      el("button", { class: "danger", text: "Delete", onclick: async () => {
        try { await api(`/owner/api/exports/${x.export_id}/delete`, {}); await refresh(); } catch (e) { flash(e.message); }
      } })))));
}

// -- audit and report --------------------------------------------------------------

async function loadAudit() {
  const data = await api("/owner/api/audit");
  const badge = document.getElementById("audit-status");
  badge.textContent = data.ok ? "verified" : "BROKEN";
  badge.className = `badge ${data.ok ? "ok" : "bad"}`;
  document.getElementById("audit-logs").replaceChildren(...data.logs.map((l) => el("p", {},
    el("span", { class: `badge ${l.ok ? "ok" : "bad"}`, text: l.ok ? "chain intact" : "broken" }), " ",
    el("span", { class: "mono", text: l.file }),
    el("span", { class: "muted", text: ` ${l.records} records, signed through line ${l.signed_through} by key ${data.key_id}${l.reason ? " — " + l.reason : ""}` }))));
  document.querySelector("#audit-records tbody").replaceChildren(...data.records.map((r) => {
    const { seq, ts, event, principal, prev, hash, ...rest } = r;
    delete rest.camera_url;
    return el("tr", {}, el("td", { text: String(seq) }), el("td", { text: when(ts) }),
      el("td", { text: event || r.type || "" }), el("td", { class: "mono", text: principal || "" }),
      el("td", { class: "mono", text: JSON.stringify(rest).slice(0, 300) }));
  }));
}

async function loadReport() {
  const data = await api("/owner/api/report.json");
  const t = data.totals;
  document.getElementById("report-totals").replaceChildren(
    ...[["received", "Requests received"], ["approved", "Approved"], ["declined", "Declined"], ["expired", "Expired"],
      ["live_minutes", "Live minutes shared"], ["recorded_minutes", "Recorded minutes shared"]].map(([k, label]) =>
      el("div", { class: `total-${k}` }, el("strong", { text: String(t[k]) }), label)));
  document.querySelector("#report-rows tbody").replaceChildren(...data.rows.map((r) => el("tr", {},
    el("td", { text: r.requester }), el("td", { text: r.purpose }), el("td", { text: String(r.received) }),
    el("td", { text: String(r.approved) }), el("td", { text: String(r.declined) }), el("td", { text: String(r.expired) }),
    el("td", { text: String(r.live_minutes) }), el("td", { text: String(r.recorded_minutes) }))));
}

// -- the whole page ---------------------------------------------------------------

async function refresh() {
  const data = await api("/owner/api/overview");
  state.overview = data;
  const firstCameras = !document.querySelector("#cameras img");
  renderCameras(data.cameras);
  if (firstCameras) refreshThumbnails();
  renderFindings(data.findings);
  renderRequests(data.requests);
  renderSessions(data.sessions, data.grants, data.exports);
  document.getElementById("tokens").replaceChildren(...data.tokens.map((name) => el("li", {}, `${name} `,
    el("button", { class: "danger", text: "Withdraw", onclick: async () => {
      try { await api(`/owner/api/tokens/${encodeURIComponent(name)}/withdraw`, {}); await refresh(); } catch (e) { flash(e.message); }
    } }))));
  document.getElementById("key-id").textContent = data.owner_key_id;
  document.getElementById("tls").textContent = data.tls_fingerprint ? `· TLS certificate SHA-256 ${data.tls_fingerprint}` : "";
}

function setUpTabs() {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", async () => {
      for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b === button);
      for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("hidden", tab.id !== `tab-${button.dataset.tab}`);
      try {
        if (button.dataset.tab === "audit") await loadAudit();
        if (button.dataset.tab === "report") await loadReport();
      } catch (e) { flash(e.message); }
    });
  }
}

async function start() {
  setUpTabs();
  setUpMaskEditor();
  document.getElementById("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const data = await api("/owner/api/login", { password: document.getElementById("password").value });
      state.csrf = data.csrf;
      document.getElementById("password").value = "";
      document.getElementById("login-error").textContent = "";
      showApp();
      await refresh();
    } catch (e) { document.getElementById("login-error").textContent = e.message; }
  });
  document.getElementById("logout-button").addEventListener("click", async () => {
    try { await api("/owner/api/logout", {}); } finally { state.csrf = null; showLogin(); }
  });
  document.getElementById("scan-button").addEventListener("click", async () => {
    flash("Scanning…");
    try { const data = await api("/owner/api/scan", {}); flash(`Found ${data.found} camera(s).`); await refresh(); }
    catch (e) { flash(`Scan failed: ${e.message}`); }
  });
  document.getElementById("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const data = await api("/owner/api/tokens", { name: document.getElementById("token-name").value });
      document.getElementById("token-shown").textContent = `Token for ${data.principal} (shown once): ${data.token}`;
      await refresh();
    } catch (e) { flash(e.message); }
  });
  try {
    state.csrf = (await api("/owner/api/session")).csrf;
    showApp();
    await refresh();
  } catch (e) { showLogin(); }
  setInterval(() => { if (state.csrf) refresh().catch(() => {}); }, 2000);
  setInterval(() => { if (state.csrf) refreshThumbnails(); }, 10000);
}

document.addEventListener("DOMContentLoaded", start);
