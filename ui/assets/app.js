// The dht dashboard. It reads this node's admin API and /metrics, same
// origin only, and follows its event stream. No library, no build step.
//
// Data: every POLL_MS it fetches /admin/members, /admin/ring,
// /admin/status and /metrics; /admin/events?replay=1 is read as a stream
// with fetch (EventSource cannot send the bearer header). The admin token,
// when the node has one, is asked for on the first 401, kept in this tab's
// sessionStorage and sent as "Authorization: Bearer"; never in a URL.
"use strict";

(function () {
  const POLL_MS = 1500;
  const EVENTS_MAX = 1000; // the list keeps the newest this many
  const RECENT_MAX = 50; // transfers kept from the event stream
  const RETRY_MS = 2000; // pause before the event stream reconnects
  const TOKEN_KEY = "dht-admin-token";
  const SVG = "http://www.w3.org/2000/svg";
  // Distinct colours for the first owners; later ones by golden-angle hue.
  const PALETTE = ["#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7",
    "#a463f2", "#97bbf5", "#9c6b4e", "#9498a0", "#1b9e77", "#d95f02"];

  const $ = (id) => document.getElementById(id);
  const state = {
    unauthorized: false,
    colours: new Map(), // node id -> colour, fixed once given for the page's life
    ringKey: "", // what the drawn ring was drawn from
    memberRows: new Map(), // node id -> <tr>
    prevMetrics: null, // {t, requests, buckets}
    seenTransfers: new Map(), // "p/kind/peer" -> {keys, total, active}
    recent: new Map(), // partition -> transfer told by the event stream
    lastSeq: 0,
    lastEventTime: 0,
    eventCount: 0,
  };

  // ---- the token and fetches ----

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    const t = token();
    if (t) h["Authorization"] = "Bearer " + t;
    return h;
  }

  class HTTPError extends Error {
    constructor(status, msg) { super(msg); this.status = status; }
  }

  async function errorOf(resp) {
    let msg = resp.status + " " + resp.statusText;
    try {
      const body = await resp.json();
      if (body && body.error) msg = resp.status + " " + body.error + (body.code ? " (" + body.code + ")" : "");
    } catch (e) { /* not JSON */ }
    if (resp.status === 401) unauthorized();
    return new HTTPError(resp.status, msg);
  }

  async function getJSON(path) {
    const resp = await fetch(path, { headers: headers(), cache: "no-store" });
    if (!resp.ok) throw await errorOf(resp);
    return resp.json();
  }

  async function getText(path) {
    const resp = await fetch(path, { headers: headers(), cache: "no-store" });
    if (!resp.ok) throw await errorOf(resp);
    return resp.text();
  }

  function unauthorized() {
    if (state.unauthorized) return;
    state.unauthorized = true;
    setConn("unauthorized", token() ? "wrong admin token" : "admin token needed");
    openToken();
  }

  function openToken() {
    const d = $("token-dialog");
    $("token-input").value = "";
    if (!d.open) d.showModal();
  }

  function setConn(s, text) {
    const c = $("conn");
    c.dataset.state = s;
    c.textContent = text;
  }

  function showError(msgs) {
    const e = $("error");
    e.hidden = msgs.length === 0;
    e.textContent = msgs.join("; ");
  }

  // ---- colours ----

  // colourOf gives each node a colour for the page's life: the ids first
  // seen together get theirs in sorted order, later ones after them.
  function assignColours(ids) {
    const fresh = [...new Set(ids)].filter((id) => id && !state.colours.has(id)).sort();
    for (const id of fresh) {
      const i = state.colours.size;
      state.colours.set(id, i < PALETTE.length ? PALETTE[i] : "hsl(" + ((i * 137.5) % 360) + ",60%,55%)");
    }
  }
  const colourOf = (id) => state.colours.get(id) || "#ccc";

  // ---- the ring ----

  function arcPath(r0, r1, a0, a1) {
    const large = a1 - a0 > Math.PI ? 1 : 0;
    const pt = (r, a) => (r * Math.cos(a)).toFixed(3) + " " + (r * Math.sin(a)).toFixed(3);
    return "M" + pt(r1, a0) + " A" + r1 + " " + r1 + " 0 " + large + " 1 " + pt(r1, a1) +
      " L" + pt(r0, a1) + " A" + r0 + " " + r0 + " 0 " + large + " 0 " + pt(r0, a0) + " Z";
  }

  function svgEl(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    return el;
  }

  // drawRing redraws the arcs when the ring changed: the outer band is each
  // partition's first owner, the thinner bands inside its other replicas.
  function drawRing(ring) {
    const key = ring.version + "/" + ring.partitions + "/" + JSON.stringify(ring.replicas);
    if (key === state.ringKey) return;
    state.ringKey = key;
    const svg = $("ring");
    svg.replaceChildren();
    const q = ring.partitions;
    const n = Math.max(1, ring.n);
    const owners = new Map(); // first owner -> partitions
    for (let p = 0; p < q; p++) {
      const prefs = ring.replicas[p] || [];
      const span = 2 * Math.PI / q;
      const a0 = p * span - Math.PI / 2;
      const a1 = a0 + (q === 1 ? span - 1e-4 : span);
      prefs.forEach((id, rank) => {
        if (rank >= n) return;
        const outer = rank === 0 ? 100 : 74 - (rank - 1) * 10;
        const inner = rank === 0 ? 76 : outer - 8;
        const attrs = { d: arcPath(inner, outer, a0, a1), fill: colourOf(id), "data-partition": p, "data-rank": rank };
        attrs["data-owner"] = id;
        attrs["data-testid"] = rank === 0 ? "ring-arc" : "ring-replica-arc";
        const el = svgEl("path", attrs);
        if (rank > 0) el.setAttribute("fill-opacity", "0.7");
        const title = svgEl("title", {});
        title.textContent = "partition " + p + ": " + prefs.join(", ");
        el.appendChild(title);
        svg.appendChild(el);
      });
      if (prefs.length > 0) owners.set(prefs[0], (owners.get(prefs[0]) || 0) + 1);
      else {
        svg.appendChild(svgEl("path", { d: arcPath(76, 100, a0, a1), fill: "#eee", "data-testid": "ring-arc", "data-partition": p, "data-owner": "" }));
      }
    }
    const label = svgEl("text", { y: 4, "data-testid": "ring-label" });
    label.textContent = q + " partitions, " + owners.size + " owners";
    svg.appendChild(label);

    const legend = $("ring-legend");
    legend.replaceChildren();
    for (const [id, count] of [...owners.entries()].sort()) {
      const li = document.createElement("li");
      li.dataset.testid = "legend-owner";
      li.dataset.owner = id;
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.backgroundColor = colourOf(id); // CSSOM, which the CSP allows
      li.append(sw, id + " (" + count + " first)");
      legend.appendChild(li);
    }
  }

  // markMoving outlines the partitions this node is transferring now.
  function markMoving(active) {
    const moving = new Map(active.map((t) => [t.partition, t.kind]));
    for (const el of $("ring").querySelectorAll('path[data-testid="ring-arc"]')) {
      const kind = moving.get(Number(el.dataset.partition));
      if (kind) {
        el.classList.add("moving");
        el.dataset.moving = kind;
        // Drawn last, so that its outline is on top.
        el.parentNode.appendChild(el);
      } else if (el.classList.contains("moving")) {
        el.classList.remove("moving");
        delete el.dataset.moving;
      }
    }
  }

  // ---- members ----

  function cell(tr, i) {
    while (tr.children.length <= i) tr.appendChild(document.createElement("td"));
    return tr.children[i];
  }

  function renderMembers(members) {
    const tbody = $("members");
    const ids = new Set();
    for (const m of members) {
      ids.add(m.id);
      let tr = state.memberRows.get(m.id);
      if (!tr) {
        tr = document.createElement("tr");
        tr.dataset.testid = "member-row";
        tr.dataset.node = m.id;
        state.memberRows.set(m.id, tr);
      }
      tr.dataset.status = m.status;
      tr.dataset.owner = m.owner ? "true" : "false";
      tr.dataset.replicas = m.replicas;

      const idCell = cell(tr, 0);
      idCell.replaceChildren();
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.backgroundColor = colourOf(m.id);
      idCell.append(sw, m.id + (m.self ? " (this node)" : ""));

      const badge = document.createElement("span");
      badge.className = "badge " + m.status;
      badge.textContent = m.status;
      cell(tr, 1).replaceChildren(badge);
      cell(tr, 2).textContent = m.zone || "";
      cell(tr, 3).textContent = m.owner ? "yes" : "no";
      const rep = cell(tr, 4);
      rep.className = "num";
      rep.textContent = m.replicas;

      // Other nodes' status and metrics are on their own dashboards: the
      // API grants no cross-origin reads.
      const addr = cell(tr, 5);
      if (m.http_addr && !m.self) {
        const a = document.createElement("a");
        a.href = location.protocol + "//" + m.http_addr + "/ui";
        a.textContent = m.http_addr;
        a.rel = "noreferrer";
        addr.replaceChildren(a);
      } else {
        addr.textContent = m.http_addr || "";
      }

      const actions = cell(tr, 6);
      const gone = m.status === "left" || m.status === "removed";
      const want = gone ? "" : "decommission force-remove";
      if (actions.dataset.actions !== want) {
        actions.dataset.actions = want;
        actions.replaceChildren();
        if (!gone) {
          actions.append(actionButton("decommission", m.id), " ", actionButton("force-remove", m.id));
        }
      }
      tbody.appendChild(tr); // in the API's order (sorted by id)
    }
    for (const [id, tr] of state.memberRows) {
      if (!ids.has(id)) { tr.remove(); state.memberRows.delete(id); }
    }
  }

  // ---- admin actions, each confirmed by typing the node id ----

  const ACTIONS = {
    "decommission": { path: "/admin/decommission", text: "Decommission %s: it hands its replicas to the other nodes, then leaves the cluster." },
    "force-remove": { path: "/admin/force-remove", text: "Force-remove %s: it leaves the ring at once, without handing its data over; the other replicas rebuild it. For a node that is gone for good." },
  };

  function actionButton(action, id) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "danger";
    b.textContent = action;
    b.dataset.testid = "action-" + action;
    b.dataset.node = id;
    b.addEventListener("click", () => confirmAction(action, id));
    return b;
  }

  let pending = null; // {action, id} awaiting confirmation

  function confirmAction(action, id) {
    pending = { action, id };
    $("confirm-text").textContent = ACTIONS[action].text.replace("%s", id);
    $("confirm-input").value = "";
    $("confirm-go").disabled = true;
    $("confirm-dialog").showModal();
    $("confirm-input").focus();
  }

  async function runAction() {
    const p = pending;
    pending = null;
    $("confirm-dialog").close();
    if (!p) return;
    const out = $("action-result");
    out.dataset.state = "running";
    out.textContent = p.action + " " + p.id + "…";
    try {
      const resp = await fetch(ACTIONS[p.action].path, {
        method: "POST",
        headers: headers({ "Content-Type": "application/json" }),
        body: JSON.stringify({ node: p.id }),
      });
      if (!resp.ok) throw await errorOf(resp);
      out.dataset.state = "accepted";
      out.textContent = p.action + " " + p.id + ": accepted (" + resp.status + "); the ring and the data follow";
    } catch (e) {
      out.dataset.state = "failed";
      out.textContent = p.action + " " + p.id + " failed: " + e.message;
    }
  }

  // ---- this node's status ----

  function fmtDuration(s) {
    if (!(s > 0) || !isFinite(s)) return "–";
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
  }

  function fmtBytes(b) {
    if (b < 1024) return b + " B";
    const u = ["KiB", "MiB", "GiB", "TiB"];
    let i = -1;
    do { b /= 1024; i++; } while (b >= 1024 && i < u.length - 1);
    return b.toFixed(1) + " " + u[i];
  }

  function renderStatus(st) {
    $("node-id").textContent = st.node;
    document.title = "dht " + st.node;
    const h = st.handoff || {};
    $("handoff-pending").textContent = h.pending;
    $("handoff-rebuilding").textContent = h.rebuilding;
    $("handoff-draining").textContent = h.draining;
    $("handoff-completed").textContent = h.completed;
    $("handoff-completed").dataset.value = h.completed;
    $("handoff-eta").textContent = h.eta_seconds > 0 ? fmtDuration(h.eta_seconds) : (h.pending || h.draining ? "unknown" : "idle");
    $("handoff-settled").textContent = h.settled ? "yes" : "no";
    $("handoff-settled").dataset.value = h.settled ? "true" : "false";
    $("hints-bytes").textContent = fmtBytes(st.hints_bytes || 0);

    const active = h.active || [];
    const now = Date.now();
    const rows = active.map((t) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "transfer-row";
      tr.dataset.partition = t.partition;
      tr.dataset.kind = t.kind;
      const td = (text, cls) => { const c = document.createElement("td"); c.textContent = text; if (cls) c.className = cls; return c; };
      const prog = document.createElement("progress");
      let eta = "–";
      if (t.total_keys > 0) {
        prog.max = t.total_keys;
        prog.value = Math.min(t.keys, t.total_keys);
        const elapsed = (now - Date.parse(t.started_at)) / 1000;
        const rate = elapsed > 0 ? t.keys / elapsed : 0;
        if (rate > 0 && t.total_keys > t.keys) eta = fmtDuration((t.total_keys - t.keys) / rate);
      }
      const pc = document.createElement("td");
      pc.append(prog, " " + (t.total_keys > 0 ? Math.floor(100 * t.keys / t.total_keys) + "%" : "?"));
      tr.append(td(t.partition, "num"), td(t.kind), td(t.peer),
        td(t.keys + (t.total_keys > 0 ? " / " + t.total_keys : ""), "num"), pc, td(eta));
      return tr;
    });
    $("transfers").replaceChildren(...rows);
    markMoving(active);

    // What the polls caught in flight since the page opened, and which of
    // those are no longer running (finished, or moved on).
    const live = new Set();
    for (const t of active) {
      const k = t.partition + "/" + t.kind + "/" + t.peer;
      live.add(k);
      state.seenTransfers.set(k, { keys: t.keys, total: t.total_keys, active: true });
    }
    let done = 0;
    for (const [k, v] of state.seenTransfers) {
      if (!live.has(k)) v.active = false;
      if (!v.active) done++;
    }
    const seen = $("transfers-seen");
    seen.dataset.seen = state.seenTransfers.size;
    seen.dataset.done = done;
    seen.textContent = state.seenTransfers.size === 0 ? "No transfer seen in flight since this page opened." :
      state.seenTransfers.size + " transfer(s) seen in flight since this page opened, " + done + " of them no longer running.";

    const hints = Object.entries(st.hints_pending || {}).sort();
    $("hints").replaceChildren(...hints.map(([target, count]) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "hint-row";
      tr.dataset.target = target;
      const a = document.createElement("td"); a.textContent = target;
      const b = document.createElement("td"); b.textContent = count; b.className = "num";
      tr.append(a, b);
      return tr;
    }));
  }

  // ---- /metrics, Prometheus text format ----

  // parseMetrics returns the samples of a text exposition:
  // [{name, labels: {k: v}, value}].
  function parseMetrics(text) {
    const out = [];
    const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/;
    const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (const l of text.split("\n")) {
      if (l === "" || l[0] === "#") continue;
      const m = line.exec(l);
      if (!m) continue;
      const labels = {};
      if (m[3]) {
        let lm;
        label.lastIndex = 0;
        while ((lm = label.exec(m[3])) !== null) {
          labels[lm[1]] = lm[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
        }
      }
      out.push({ name: m[1], labels, value: parseFloat(m[4]) });
    }
    return out;
  }

  const sum = (samples, name) => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
  const has = (samples, name) => samples.some((s) => s.name === name);

  // quantile estimates the q-quantile from cumulative buckets [{le, count}]
  // sorted by le, interpolating inside a bucket as Prometheus'
  // histogram_quantile does.
  function quantile(q, buckets) {
    if (buckets.length === 0) return NaN;
    const total = buckets[buckets.length - 1].count;
    if (!(total > 0)) return NaN;
    const rank = q * total;
    let prevLe = 0, prevCount = 0;
    for (const b of buckets) {
      if (b.count >= rank) {
        if (!isFinite(b.le)) return prevLe; // in the +Inf bucket: the highest bound known
        const inBucket = b.count - prevCount;
        return inBucket > 0 ? prevLe + (b.le - prevLe) * (rank - prevCount) / inBucket : b.le;
      }
      prevLe = b.le; prevCount = b.count;
    }
    return prevLe;
  }

  function fmtLatency(s) {
    if (!isFinite(s)) return "–";
    return s < 1 ? (s * 1000).toFixed(s < 0.01 ? 2 : 1) + " ms" : s.toFixed(2) + " s";
  }

  function renderMetrics(text) {
    const samples = parseMetrics(text);
    const now = performance.now();
    const buckets = new Map(); // le -> count, summed over ops
    for (const s of samples) {
      if (s.name !== "dht_request_duration_seconds_bucket") continue;
      const le = s.labels.le === "+Inf" ? Infinity : parseFloat(s.labels.le);
      buckets.set(le, (buckets.get(le) || 0) + s.value);
    }
    const cur = { t: now, requests: sum(samples, "dht_requests_total"), buckets };
    const prev = state.prevMetrics;
    state.prevMetrics = cur;
    if (prev) {
      const dt = (cur.t - prev.t) / 1000;
      const rate = dt > 0 ? Math.max(0, cur.requests - prev.requests) / dt : 0;
      $("m-rate").textContent = rate.toFixed(1);
      $("m-rate").dataset.value = rate;
      const delta = [...buckets.entries()].sort((a, b) => a[0] - b[0])
        .map(([le, c]) => ({ le, count: c - (prev.buckets.get(le) || 0) }));
      const idle = delta.length === 0 || delta[delta.length - 1].count <= 0;
      $("m-p50").textContent = idle ? "no requests" : fmtLatency(quantile(0.5, delta));
      $("m-p99").textContent = idle ? "no requests" : fmtLatency(quantile(0.99, delta));
    }
    if (has(samples, "dht_ae_max_seconds_since_exchange")) {
      const ae = sum(samples, "dht_ae_max_seconds_since_exchange");
      $("m-ae").textContent = ae.toFixed(1) + " s";
      $("m-ae").dataset.value = ae;
    } else {
      $("m-ae").textContent = "anti-entropy off";
    }
    $("m-hints").textContent = sum(samples, "dht_hints_pending");
    const byStatus = {};
    for (const s of samples) if (s.name === "dht_members") byStatus[s.labels.status] = s.value;
    const others = Object.entries(byStatus).filter(([k, v]) => k !== "alive" && k !== "down" && v > 0)
      .map(([k, v]) => k + " " + v);
    $("m-members").textContent = (byStatus.alive || 0) + " / " + (byStatus.down || 0) + (others.length ? " (" + others.join(", ") + ")" : "");
    $("m-members").dataset.down = byStatus.down || 0;
    $("m-under").textContent = sum(samples, "dht_partitions_under_replicated");
    $("m-under").dataset.value = sum(samples, "dht_partitions_under_replicated");
  }

  // ---- polling ----

  async function poll() {
    if (state.unauthorized) return;
    const errs = [];
    const [members, ring, status, metrics] = await Promise.allSettled([
      getJSON("/admin/members"), getJSON("/admin/ring"), getJSON("/admin/status"), getText("/metrics"),
    ]);
    if (state.unauthorized) return;
    const ids = [];
    if (members.status === "fulfilled") ids.push(...members.value.members.map((m) => m.id));
    if (ring.status === "fulfilled") for (const prefs of ring.value.replicas) ids.push(...prefs);
    assignColours(ids);

    if (ring.status === "fulfilled") {
      $("ring-version").textContent = ring.value.version;
      $("ring-q").textContent = ring.value.partitions;
      $("ring-n").textContent = ring.value.n;
      drawRing(ring.value);
    } else errs.push("ring: " + ring.reason.message);
    if (members.status === "fulfilled") renderMembers(members.value.members);
    else errs.push("members: " + members.reason.message);
    if (status.status === "fulfilled") renderStatus(status.value);
    else errs.push("status: " + status.reason.message);
    if (metrics.status === "fulfilled") renderMetrics(metrics.value);
    else errs.push("metrics: " + metrics.reason.message);

    showError(errs);
    if (errs.length === 0) setConn("ok", "live");
    else if (errs.length === 4) setConn("error", "node unreachable");
    else setConn("ok", "live, partly");
    const u = $("updated");
    u.textContent = "updated " + new Date().toLocaleTimeString();
    u.dataset.at = Date.now();
  }

  async function pollLoop() {
    try { await poll(); } catch (e) { setConn("error", "error: " + e.message); }
    setTimeout(pollLoop, POLL_MS);
  }

  // ---- the event stream ----

  function addEvent(kind, data) {
    const li = document.createElement("li");
    li.dataset.testid = "event";
    li.dataset.kind = kind;
    li.className = kind;
    const k = document.createElement("span");
    k.className = "kind";
    k.textContent = kind;
    if (kind === "dropped") {
      li.append("lost ", String(data.dropped), " event(s): the page fell behind ");
    } else {
      li.dataset.seq = data.seq;
      const t = new Date(data.time);
      li.append(isNaN(t) ? "" : t.toLocaleTimeString() + " ", data.node + " ", k,
        data.subject ? " " + data.subject : "",
        data.partition !== undefined ? " p" + data.partition : "",
        data.detail ? " — " + data.detail : "");
    }
    if (kind === "dropped") li.prepend(k, " ");
    trackTransfer(kind, data);
    const list = $("events");
    list.prepend(li);
    while (list.children.length > EVENTS_MAX) list.lastChild.remove();
    state.eventCount++;
    $("event-count").textContent = state.eventCount;
    $("event-count").dataset.value = state.eventCount;
  }

  // trackTransfer keeps the transfers the node's events tell of: a
  // handoff-start opens one for its partition, a handoff-finish or
  // handoff-drop closes it. The stream replays the node's history, so this
  // shows transfers too short for a poll to catch in flight.
  function trackTransfer(kind, e) {
    if (e.partition === undefined) return;
    const t = Date.parse(e.time) || Date.now();
    if (kind === "handoff-start") {
      state.recent.delete(e.partition); // a newer one goes to the top
      state.recent.set(e.partition, { partition: e.partition, started: t, detail: e.detail || "", finished: 0, end: "" });
    } else if (kind === "handoff-finish" || kind === "handoff-drop") {
      const r = state.recent.get(e.partition);
      if (!r || r.finished) return;
      r.finished = t;
      r.end = e.detail || kind;
    } else return;
    while (state.recent.size > RECENT_MAX) state.recent.delete(state.recent.keys().next().value);
    renderRecent();
  }

  function renderRecent() {
    const rows = [...state.recent.values()].reverse().map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "recent-transfer";
      tr.dataset.partition = r.partition;
      tr.dataset.state = r.finished ? "finished" : "running";
      const td = (text, cls) => { const c = document.createElement("td"); c.textContent = text; if (cls) c.className = cls; return c; };
      tr.append(td(r.partition, "num"), td(new Date(r.started).toLocaleTimeString()), td(r.detail),
        td(r.finished ? "done in " + fmtDuration(Math.max(0.1, (r.finished - r.started) / 1000)) : "running"));
      tr.title = r.end;
      return tr;
    });
    $("recent-transfers").replaceChildren(...rows);
    const running = rows.filter((r) => r.dataset.state === "running").length;
    const sum = $("recent-summary");
    sum.dataset.total = rows.length;
    sum.dataset.running = running;
    sum.textContent = rows.length + " transfer(s) in the node's events, " + running + " running.";
  }

  // onEvent adds one SSE message. A reconnect replays the node's history:
  // events already shown are skipped by their sequence number, unless the
  // node restarted (a new bus numbers from 1 again, at a later time).
  function onEvent(kind, dataText) {
    let data;
    try { data = JSON.parse(dataText); } catch (e) { return; }
    if (kind === "dropped") { addEvent(kind, data); return; }
    const t = Date.parse(data.time) || 0;
    if (data.seq <= state.lastSeq && t <= state.lastEventTime) return;
    state.lastSeq = data.seq;
    state.lastEventTime = Math.max(state.lastEventTime, t);
    addEvent(kind, data);
  }

  async function followEvents() {
    const st = $("events-state");
    for (;;) {
      if (state.unauthorized) { await sleep(RETRY_MS); continue; }
      try {
        const resp = await fetch("/admin/events?replay=1", { headers: headers({ Accept: "text/event-stream" }), cache: "no-store" });
        if (!resp.ok) throw await errorOf(resp);
        st.textContent = "following the node's event stream";
        st.dataset.state = "open";
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, "\n");
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let kind = "message";
            const data = [];
            for (const l of block.split("\n")) {
              if (l.startsWith(":")) continue; // keepalive comment
              const i = l.indexOf(":");
              const field = i < 0 ? l : l.slice(0, i);
              let v = i < 0 ? "" : l.slice(i + 1);
              if (v.startsWith(" ")) v = v.slice(1);
              if (field === "event") kind = v;
              else if (field === "data") data.push(v);
            }
            if (data.length > 0) onEvent(kind, data.join("\n"));
          }
        }
        st.textContent = "event stream ended; reconnecting";
      } catch (e) {
        st.textContent = "event stream: " + e.message + "; reconnecting";
      }
      st.dataset.state = "closed";
      await sleep(RETRY_MS);
    }
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // ---- wiring ----

  function init() {
    $("token-open").addEventListener("click", openToken);
    $("token-save").addEventListener("click", () => {
      try { sessionStorage.setItem(TOKEN_KEY, $("token-input").value); } catch (e) { /* private mode */ }
      $("token-input").value = "";
      $("token-dialog").close();
      state.unauthorized = false;
      setConn("connecting", "connecting");
    });
    $("token-clear").addEventListener("click", () => {
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
      $("token-input").value = "";
    });
    $("token-cancel").addEventListener("click", () => $("token-dialog").close());
    $("token-input").addEventListener("keydown", (e) => { if (e.key === "Enter") $("token-save").click(); });
    $("confirm-input").addEventListener("input", () => {
      $("confirm-go").disabled = !pending || $("confirm-input").value !== pending.id;
    });
    $("confirm-go").addEventListener("click", () => {
      if (pending && $("confirm-input").value === pending.id) runAction();
    });
    $("confirm-cancel").addEventListener("click", () => { pending = null; $("confirm-dialog").close(); });
    pollLoop();
    followEvents();
  }

  init();
})();
