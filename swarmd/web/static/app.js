// The swarmd dashboard. Loads each panel once from the JSON endpoints, then
// follows /api/events (Server-Sent Events): every event goes to the feed and
// schedules a refresh of only the panels it concerns. There is no polling; the
// uptime ticks locally from the last status. Everything from the network is
// inserted as text (never HTML): peer-supplied strings cannot inject markup.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = {
    self: "",
    status: null,
    statusAt: 0,
    names: {},
    query: "",
    eventsReceived: 0,
    lastEvent: null,
    loadedAt: Date.now(),
    connected: false,
  };
  window.swarmdDashboard = state; // for people poking in the console, and for tests

  // -- helpers ------------------------------------------------------------------

  const num = (v) => (v === undefined || v === null || v === "" ? 0 : Number(v));
  const shortId = (id) => (id && id.length > 18 ? `${id.slice(0, 10)}…${id.slice(-6)}` : id || "");
  const nameOf = (id) => state.names[id] || shortId(id);
  const fixed = (v, d = 3) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? "–" : Number(v).toFixed(d));

  function duration(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
    return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, "0")}h`;
  }

  function text(id, value) {
    const node = typeof id === "string" ? $(id) : id;
    if (node) node.textContent = value === undefined || value === null || value === "" ? "–" : String(value);
  }

  function badge(value) {
    const span = document.createElement("span");
    span.className = `badge ${String(value).replace(/[^a-z_-]/gi, "")}`;
    span.textContent = value || "–";
    return span;
  }

  function row(cells, cls) {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.appendChild(c);
      else if (c && typeof c === "object") {
        td.textContent = c.text;
        if (c.title) td.title = c.title;
        if (c.cls) td.className = c.cls;
      } else td.textContent = c === undefined || c === null ? "" : String(c);
      tr.appendChild(td);
    }
    return tr;
  }

  // A panel's "not available" line; null hides it.
  function unavailable(panelId, reason) {
    const panel = $(panelId);
    const p = panel.querySelector(".unavailable");
    panel.classList.toggle("is-unavailable", !!reason);
    if (!p) return;
    p.hidden = !reason;
    p.textContent = reason ? `not available: ${reason}` : "";
  }

  async function getJSON(path) {
    try {
      const r = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
      let body = null;
      try { body = await r.json(); } catch (e) { body = null; }
      return { ok: r.ok, status: r.status, body };
    } catch (e) {
      return { ok: false, status: 0, body: { error: "the daemon cannot be reached" } };
    }
  }

  // -- panels -------------------------------------------------------------------

  function renderStatus(s) {
    state.status = s;
    state.statusAt = performance.now();
    state.self = s.peer_id;
    state.names[s.peer_id] = s.name;
    text("node-name", s.name);
    text("peer-id", s.peer_id);
    $("peer-id").title = s.peer_id;
    text("version", s.version);
    text("swarm-id", s.swarm_id);
    $("state").replaceChildren(badge(s.state));
    const r = s.round || {};
    text("round", num(r.round));
    // Stages count from 0, as in the feed; "of N" only where a round has several.
    text("stage", r.stage_count > 1 ? `${num(r.stage)} of ${r.stage_count}` : num(r.stage));
    text("phase", r.phase);
    text("round-source", r.source);
    text("environment", r.environment);
    text("rounds-completed", num(r.rounds_completed));
    text("last-reward", r.has_last_reward ? fixed(r.last_reward) : "");
    const m = s.mesh || {};
    const meshParts = [badge(m.state), document.createTextNode(
      m.state === "disabled" || m.state === "unavailable" ? "" : ` ${num(m.connected_peers)} connected`)];
    if (m.reachability === "not_reachable") {
      // Peers cannot dial this node back: say so, with the setting to change.
      const warn = document.createElement("div");
      warn.id = "mesh-reachability";
      warn.className = "warning";
      warn.textContent = `not reachable: ${m.reachability_detail || ""}`;
      meshParts.push(warn);
    }
    $("mesh-state").replaceChildren(...meshParts);
    const t = s.training || {};
    $("training-state").replaceChildren(badge(t.state), document.createTextNode(
      t.model ? ` ${t.model}${t.device ? " on " + t.device : ""}, step ${num(t.step)}` : ""));
    const c = s.chain || {};
    $("chain-state").replaceChildren(badge(c.state), document.createTextNode(
      c.state === "ok" ? ` chain ${num(c.chain_id)}, ${num(c.pending_submissions)} pending` : ""));
    document.title = `swarmd · ${s.name} · round ${num(r.round)}`;
    tickUptime();
  }

  function tickUptime() {
    if (!state.status) return;
    const elapsed = state.connected ? (performance.now() - state.statusAt) / 1000 : 0;
    text("uptime", duration(num(state.status.uptime_s) + elapsed));
  }

  async function loadStatus() {
    const r = await getJSON("/api/status");
    if (r.ok) renderStatus(r.body);
  }

  async function loadPeers() {
    const r = await getJSON("/api/peers");
    const body = $("peers-body");
    if (!r.ok) {
      unavailable("peers-panel", r.body && r.body.error);
      body.replaceChildren();
      text("peer-count", "");
      return;
    }
    unavailable("peers-panel", null);
    const peers = (r.body.peers || []).filter((p) => p.peer_id !== state.self);
    peers.sort((a, b) => (a.liveness === b.liveness ? (a.name || "").localeCompare(b.name || "") : a.liveness === "live" ? -1 : 1));
    for (const p of peers) if (p.name) state.names[p.peer_id] = p.name;
    body.replaceChildren(...peers.map((p) => {
      const tr = row([
        p.name || "",
        { text: shortId(p.peer_id), title: p.peer_id, cls: "mono" },
        badge(p.liveness || (p.connected ? "live" : "stale")),
        `${fixed(p.last_seen_s_ago, 0)}s ago`,
        p.rtt_ms ? `${fixed(p.rtt_ms, 0)} ms` : "",
        num(p.round),
      ]);
      tr.dataset.peerId = p.peer_id;
      return tr;
    }));
    const live = peers.filter((p) => p.liveness === "live").length;
    text("peer-count", `${live} live / ${peers.length}`);
  }

  async function loadLeaderboard() {
    const q = state.query;
    const r = await getJSON(`/api/leaderboard?q=${encodeURIComponent(q)}&limit=200`);
    if (q !== state.query) return; // a newer search is on its way
    const body = $("leaderboard-body");
    if (!r.ok) {
      unavailable("leaderboard-panel", r.body && r.body.error);
      body.replaceChildren();
      return;
    }
    unavailable("leaderboard-panel", null);
    const entries = r.body.entries || [];
    const chain = entries.some((e) => e.has_chain_totals);
    // The contract stores integers (reward × scale); shown in the local column's units.
    const scale = num(r.body.chain_reward_scale) || 1;
    $("leaderboard-panel").classList.toggle("hide-chain", !chain);
    for (const e of entries) if (e.name) state.names[e.peer_id] = e.name;
    body.replaceChildren(...entries.map((e, i) => {
      const tr = row([
        i + 1,
        e.name || "",
        { text: shortId(e.peer_id), title: e.peer_id, cls: "mono" },
        { text: num(e.rounds), cls: "num" },
        { text: fixed(e.verified_reward), cls: "num" },
        { text: num(e.wins), cls: "num" },
        { text: e.has_chain_totals ? fixed(num(e.chain_reward) / scale) : "–", cls: "num chain-col",
          title: e.has_chain_totals ? `${num(e.chain_reward)} on chain (reward × ${scale})` : "" },
        { text: e.has_chain_totals ? num(e.chain_wins) : "–", cls: "num chain-col" },
      ], e.peer_id === state.self ? "self" : "");
      tr.dataset.peerId = e.peer_id;
      return tr;
    }));
    if (!entries.length) {
      body.replaceChildren(row([q ? `no peer matches “${q}”` : isBootnode() ? BOOTNODE_NOTE : "no rounds scored yet"]));
    }
  }

  async function loadRounds() {
    const r = await getJSON("/api/rounds?limit=200");
    if (!r.ok) {
      unavailable("rewards-panel", r.body && r.body.error);
      SwarmChart.line($("reward-chart"), { series: [], empty: "not available" });
      $("rounds-body").replaceChildren();
      return;
    }
    unavailable("rewards-panel", null);
    Object.assign(state.names, r.body.names || {});
    const self = r.body.self_peer_id || state.self;
    const rounds = (r.body.rounds || []).slice().sort((a, b) => a.round - b.round || a.stage - b.stage);
    // x is the round; the stages of a multi-stage round sit between it and the next.
    const stages = new Map();
    for (const rd of rounds) stages.set(rd.round, Math.max(stages.get(rd.round) || 1, num(rd.stage) + 1));
    const x = (rd) => rd.round + num(rd.stage) / stages.get(rd.round);
    // One series per peer whose rewards this node verified, plus its own.
    const perPeer = new Map();
    for (const rd of rounds) {
      for (const [peer, reward] of Object.entries(rd.rewards || {})) {
        if (peer === self) continue;
        if (!perPeer.has(peer)) perPeer.set(peer, []);
        perPeer.get(peer).push([x(rd), reward]);
      }
    }
    const series = [...perPeer.entries()].map(([peer, points]) => ({
      label: nameOf(peer), color: SwarmChart.colorFor(peer), points,
    }));
    series.push({
      label: `${nameOf(self)} (this node)`, color: "#111827", width: 2.6,
      points: rounds.map((rd) => [x(rd), rd.own_reward]),
    });
    SwarmChart.line($("reward-chart"), {
      series, xLabel: "round", integerX: true, title: "reward over rounds", empty: "no rounds yet",
      data: { rounds: rounds.length, lastRound: rounds.length ? rounds[rounds.length - 1].round : "" },
    });
    const recent = rounds.slice(-12).reverse();
    // One column per peer scored in these rounds, this node first: the round timeline of the swarm.
    const others = [...new Set(recent.flatMap((rd) => Object.keys(rd.rewards || {})))]
      .filter((p) => p !== self).sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
    const columns = [self, ...others];
    const head = (label, cls, title) => {
      const th = document.createElement("th");
      th.textContent = label;
      if (cls) th.className = cls;
      if (title) th.title = title;
      return th;
    };
    $("rounds-head").replaceChildren(
      head("round"), head("stage"),
      ...columns.map((p) => head(p === self ? `${nameOf(p)} (this node)` : nameOf(p), "num peer-col", p)),
      head("groups (local / external)", "num"), head("winners"));
    $("rounds-body").replaceChildren(...recent.map((rd) => {
      const rewards = rd.rewards || {};
      const tr = row([
        rd.round, rd.stage,
        ...columns.map((p) => {
          const v = p === self && rd.own_reward !== undefined && rd.own_reward !== null ? rd.own_reward : rewards[p];
          return { text: v === undefined || v === null ? "–" : fixed(v), cls: p === self ? "num self" : "num" };
        }),
        { text: `${num(rd.local_groups)} / ${num(rd.external_groups)}`, cls: "num" },
        (rd.winners || []).map(nameOf).join(", "),
      ]);
      tr.dataset.round = String(rd.round);
      columns.forEach((p, i) => { tr.children[2 + i].dataset.peerId = p; });
      return tr;
    }));
  }

  async function loadTraining() {
    const charts = { "chart-reward": "reward_mean", "chart-loss": "loss", "chart-kl": "kl", "chart-tps": "tokens_per_s" };
    const r = isBootnode() ? { ok: false, body: { error: BOOTNODE_NOTE } } : await getJSON("/api/training?limit=500");
    if (!r.ok) {
      unavailable("training-panel", r.body && r.body.error);
      for (const id of Object.keys(charts)) SwarmChart.line($(id), { series: [], empty: "not available" });
      text("training-summary", "");
      return;
    }
    unavailable("training-panel", null);
    const points = (r.body.points || []).slice().sort((a, b) => a.step - b.step);
    for (const [id, key] of Object.entries(charts)) {
      SwarmChart.line($(id), {
        series: [{ label: key, color: "#2563eb", points: points.map((p) => [p.step, p[key]]) }],
        xLabel: "step", integerX: true, height: 160, legend: false, empty: "no steps yet",
      });
    }
    const last = points[points.length - 1];
    $("training-summary").textContent = last
      ? `step ${last.step} · round ${last.round} · ${fixed(last.step_s, 1)} s/step` : "";
  }

  // -- the live feed --------------------------------------------------------------

  const FEED_MAX = 200;
  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

  function addEvent(ev, fresh) {
    const li = document.createElement("li");
    li.dataset.seq = String(ev.seq);
    li.dataset.type = ev.type;
    if (fresh) li.className = "fresh";
    const t = document.createElement("span");
    t.className = "muted";
    t.textContent = timeFmt.format(new Date(ev.time * 1000));
    const k = document.createElement("span");
    k.className = `kind ${ev.type}`;
    k.textContent = ev.type;
    const m = document.createElement("span");
    m.textContent = ev.message;
    li.append(t, k, m);
    const feed = $("feed");
    feed.prepend(li);
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
    text("event-count", `${state.eventsReceived}`);
  }

  // Which panels an event of each type can change.
  const AFFECTS = {
    lifecycle: ["status"],
    peer: ["status", "peers"],
    round: ["status", "rounds", "leaderboard"],
    rollout: ["status"],
    rejection: ["status"],
    training: ["status", "training"],
    chain: ["status", "leaderboard"],
  };
  const LOADERS = { status: loadStatus, peers: loadPeers, leaderboard: loadLeaderboard, rounds: loadRounds, training: loadTraining };
  const pending = new Map();

  // Coalesce bursts (a round end brings many events) into one fetch per panel.
  function schedule(panel, delay = 250) {
    if (pending.has(panel)) return;
    pending.set(panel, setTimeout(() => { pending.delete(panel); LOADERS[panel](); }, delay));
  }

  function loadAll() {
    // Status first: a bootnode's page skips the trainer's panel instead of asking for it.
    loadStatus().then(() => { loadPeers(); loadLeaderboard(); loadRounds(); loadTraining(); });
  }

  const isBootnode = () => !!state.status && state.status.node_mode === "bootnode";
  const BOOTNODE_NOTE = "this node is a bootnode: it relays and coordinates rounds but plays none; "
    + "a trainer's dashboard shows every peer's rewards";

  function setConnection(value) {
    state.connected = value === "live";
    $("connection").replaceChildren(badge(value));
  }

  function connect() {
    const source = new EventSource("/api/events");
    let opened = false;
    source.onopen = () => {
      setConnection("live");
      // After a reconnect (the daemon restarted, the laptop slept), catch up.
      if (opened) loadAll();
      opened = true;
    };
    source.onerror = () => setConnection(source.readyState === EventSource.CLOSED ? "down" : "reconnecting");
    source.onmessage = (msg) => {
      let ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      state.eventsReceived += 1;
      state.lastEvent = ev;
      addEvent(ev, true);
      if (ev.type === "lifecycle" && ev.lifecycle && ev.lifecycle.phase === "stopping" && state.status) {
        state.status.state = "stopping";
        $("state").replaceChildren(badge("stopping"));
      }
      for (const panel of AFFECTS[ev.type] || []) schedule(panel);
    };
  }

  $("lb-search").addEventListener("input", (e) => {
    state.query = e.target.value.trim();
    clearTimeout(state.searchTimer);
    state.searchTimer = setTimeout(loadLeaderboard, 200);
  });
  setInterval(tickUptime, 1000);
  loadAll();
  connect();
})();
