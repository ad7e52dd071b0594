// ember's profile page: fetches a frame tree from the server and draws it on
// a canvas. Names come from profiled programs and are hostile input: they
// are only ever drawn with fillText or set as textContent.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const H = 16; // frame height, CSS pixels
  const MAXROWS = 2000; // a canvas taller than ~32k pixels is not drawn
  const st = { p: 0, type: "", base: "", proc: "", tid: "", icicle: false, zoomPath: [], versions: "", sortKey: "self", sortDesc: true };
  let profiles = [];
  let data = null; // the view drawn: the whole profile's, or a zoomed subtree's
  let whole = null; // the whole profile's view
  let views = new Map(); // subtree views of whole, by tree id
  let zoom = 0;
  const NARROW = 20000; // the server merges frames under 1/NARROW of a view
  let rows = []; // per depth: drawn frames [x, w, node], left to right
  let matchName = null;
  let loading = 0;
  const colors = new Map();
  // A test hook: what was drawn, for the browser tests and benchmarks.
  const hook = { ready: false, draws: 0, drawn: 0, names: [], matched: null, matchedText: "", loadMs: 0, drawMs: 0, firstDrawAt: 0, error: "" };
  window.__ember = hook;

  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const tip = $("tip");

  function status(msg, err) {
    $("status").textContent = msg;
    $("status").className = err ? "error" : "";
    if (err) hook.error = msg;
  }

  async function getJSON(url) {
    const r = await fetch(url, { cache: "no-store" });
    if (!r.ok) throw new Error(url.split("?")[0] + ": " + r.status + " " + (await r.text()).trim());
    return r.json();
  }

  function option(sel, value, text) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    sel.appendChild(o);
  }

  function cur() { return profiles.find((p) => p.id === st.p) || profiles[0]; }

  function fillSelects() {
    const ps = $("profile"), bs = $("base"), ts = $("type");
    ps.replaceChildren();
    bs.replaceChildren();
    option(bs, "", "none");
    for (const p of profiles) {
      option(ps, String(p.id), p.name);
      option(bs, String(p.id), p.name);
    }
    ps.value = String(st.p);
    bs.value = st.base;
    ts.replaceChildren();
    const c = cur();
    if (!c) return;
    if (!c.types.some((t) => t.type === st.type)) st.type = c.default;
    for (const t of c.types) option(ts, t.type, t.type + " (" + t.unit + ")");
    ts.value = st.type;
    $("live").textContent = c.live ? "● live" : "";
    $("normwrap").classList.toggle("hide", st.base === "");
    const q = "p=" + c.id + "&type=" + encodeURIComponent(st.type);
    $("dlfolded").href = "download?format=folded&" + q;
    $("dlpprof").href = "download?format=pprof&p=" + c.id;
    $("dlsvg").href = treeURL().replace("api/tree", "download") + "&format=svg";
  }

  async function fillProcesses() {
    const sel = $("process");
    const keep = st.proc;
    sel.replaceChildren();
    option(sel, "", "all");
    const c = cur();
    if (!c) return;
    const j = await getJSON("api/processes?p=" + c.id + "&type=" + encodeURIComponent(st.type));
    const comms = new Map();
    for (const pr of j.processes) comms.set(pr.comm, (comms.get(pr.comm) || 0) + pr.value);
    for (const [comm, v] of [...comms].sort((a, b) => b[1] - a[1]).slice(0, 200)) {
      option(sel, "comm:" + comm, comm + " (all, " + fmt(v) + ")");
    }
    for (const pr of j.processes) {
      if (pr.pid) option(sel, "pid:" + pr.pid, pr.comm + " [" + pr.pid + "] " + fmt(pr.value));
    }
    sel.value = keep;
    if (sel.value !== keep) st.proc = "";
    const ts = $("thread"), keepT = st.tid;
    ts.replaceChildren();
    option(ts, "", "all");
    for (const th of j.threads || []) option(ts, String(th.tid), th.comm + " [" + th.pid + "/" + th.tid + "] " + fmt(th.value));
    ts.value = keepT;
    if (ts.value !== keepT) st.tid = "";
  }

  function treeURL() {
    let u = "api/tree?p=" + st.p + "&type=" + encodeURIComponent(st.type);
    if (st.base !== "") u += "&base=" + st.base;
    if (st.proc.startsWith("pid:")) u += "&pid=" + encodeURIComponent(st.proc.slice(4));
    if (st.proc.startsWith("comm:")) u += "&comm=" + encodeURIComponent(st.proc.slice(5));
    if (st.tid !== "") u += "&tid=" + encodeURIComponent(st.tid);
    return u;
  }

  async function loadTree() {
    const my = ++loading;
    const t0 = performance.now();
    let j;
    try {
      j = await getJSON(treeURL());
    } catch (e) {
      if (my === loading) status(String(e.message), true);
      return;
    }
    if (my !== loading) return; // a newer request superseded this one
    whole = prepare(j);
    views = new Map();
    data = whole;
    zoom = 0;
    buildTop();
    // Keep the zoom across refreshes: find the same path of names.
    await zoomToPath(st.zoomPath, my);
    if (my !== loading) return;
    await runSearch();
    if (my !== loading) return;
    draw();
    if (sandwich) openSandwich(sandwich.fn); // the profile changed under it
    hook.loadMs = performance.now() - t0;
    status(data.sum === 0 ? "no samples" + (st.proc ? " for this process" : " yet") : "");
    hook.ready = true;
  }

  // zoomToPath zooms to the frame at a path of names, as deep as it still
  // exists, fetching the subtree's own view where the frames it needs
  // were merged as too narrow in the view at hand.
  async function zoomToPath(path, my) {
    let d = whole, z = whole.root, k = 0;
    for (;;) {
      for (; k < path.length; k++) {
        const c = findChild(d, z, path[k]);
        if (c < 0) break;
        z = c;
      }
      if (z === d.root || !d.narrowBelow[z] || !needsView(d, z)) break;
      const id = d.id[z];
      let v = views.get(id);
      if (!v) {
        try {
          v = prepare(await getJSON(treeURL() + "&root=" + id + "&v=" + encodeURIComponent(whole.version)));
        } catch (e) {
          if (my === loading) status(String(e.message), true);
          break;
        }
        if (my !== loading) return;
        views.set(id, v);
      }
      d = v;
      z = v.root;
    }
    data = d;
    zoom = z;
    st.zoomPath = pathOf(z);
  }

  // needsView says whether the frames merged away under z would be a
  // device pixel wide once z fills the canvas.
  function needsView(d, z) {
    const px = Math.max(100, canvas.clientWidth) * (window.devicePixelRatio || 1);
    return d.total[z] * NARROW < d.total[d.root] * px;
  }

  const nameOf = (i, d = data) => (d.name[i] < 0 ? "(narrow)" : d.names[d.name[i]]);

  function prepare(j) {
    const n = j.name.length;
    const d = {
      names: j.names, diff: j.diff, unit: j.unit, type: j.type, sum: j.sum, sumBefore: j.sumBefore || 0,
      version: j.version, root: j.root, id: Int32Array.from(j.id), fself: j.fself, ftotal: j.ftotal,
      name: Int32Array.from(j.name), total: Float64Array.from(j.total), size: Int32Array.from(j.size),
      before: j.before ? Float64Array.from(j.before) : null,
      // A wall profile's on-CPU and blocked time per frame (else absent).
      cpu: j.cpu ? Float64Array.from(j.cpu) : null, off: j.off ? Float64Array.from(j.off) : null,
      depth: new Int32Array(n), parent: new Int32Array(n), maxDepth: 0, narrowBelow: new Uint8Array(n),
    };
    d.self = Float64Array.from(d.total);
    d.selfBefore = d.before ? Float64Array.from(d.before) : null;
    const stack = [];
    for (let i = 0; i < n; i++) {
      while (stack.length && stack[stack.length - 1] + d.size[stack[stack.length - 1]] <= i) stack.pop();
      const p = stack.length ? stack[stack.length - 1] : -1;
      d.parent[i] = p;
      d.depth[i] = stack.length;
      if (stack.length > d.maxDepth) d.maxDepth = stack.length;
      if (p >= 0) {
        d.self[p] -= d.total[i];
        if (d.before) d.selfBefore[p] -= d.before[i];
      }
      stack.push(i);
    }
    if (d.diff) {
      d.scale = $("normalize").checked && d.sumBefore > 0 ? d.sum / d.sumBefore : 1;
      let m = 1; // as flamegraph.pl: changes under one count are never the most saturated
      for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(d.self[i] - d.selfBefore[i] * d.scale));
      d.maxDelta = m;
    }
    for (let i = n - 1; i > 0; i--) if (d.narrowBelow[i] || d.name[i] < 0) d.narrowBelow[d.parent[i]] = 1;
    return d;
  }

  function findChild(d, i, nm) {
    const end = i + d.size[i];
    for (let c = i + 1; c < end; c += d.size[c]) if (d.name[c] >= 0 && d.names[d.name[c]] === nm) return c;
    return -1;
  }

  function pathOf(i) {
    const p = [];
    for (; i > 0; i = data.parent[i]) p.push(nameOf(i));
    return p.reverse();
  }

  // Colours: flamegraph.pl's "hot" palette, keyed by the name as it does,
  // so the same function has the same colour as in ember's SVGs.
  function nameRand(nm) {
    let sum = 0;
    for (const ch of nm) sum = (sum + ch.codePointAt(0)) >>> 0;
    let x = (BigInt(sum) << 16n) | 0x330en;
    x = (x * 0x5deece66dn + 0xbn) & ((1n << 48n) - 1n);
    return Number(x) / 2 ** 48;
  }
  function hotRGB(v) { return [205 + Math.floor(50 * v), Math.floor(230 * v), Math.floor(55 * v)]; }
  // flamegraph.pl's "io" palette: blues, for time spent blocked.
  function ioRGB(v) { const r = 80 + Math.floor(60 * v); return [r, r, 190 + Math.floor(55 * v)]; }
  const rgb = (c) => "rgb(" + c[0] + "," + c[1] + "," + c[2] + ")";
  function hot(nm) {
    let c = colors.get(nm);
    if (c) return c;
    c = rgb(hotRGB(nameRand(nm)));
    colors.set(nm, c);
    return c;
  }

  // The wall mode: a wall profile's frames are warm when their time was
  // mostly on-CPU, blue when mostly blocked, blended in between.
  const wallMode = (d) => d.cpu !== null && !(d.diff && d.before);
  function onShare(d, i) {
    const t = d.cpu[i] + d.off[i];
    return t > 0 ? d.cpu[i] / t : null;
  }
  function wallColor(d, i) {
    const f = onShare(d, i);
    const nm = d.names[d.name[i]];
    if (f === null) return hot(nm);
    const v = nameRand(nm), w = hotRGB(v), b = ioRGB(v);
    return rgb([0, 1, 2].map((k) => Math.round(f * w[k] + (1 - f) * b[k])));
  }

  // diffColor as flamegraph --diff: red grew, blue shrank, by the change of
  // the stacks that end at the frame (its self value).
  function diffColor(i) {
    let delta = data.self[i] - data.selfBefore[i] * data.scale;
    const m = data.maxDelta;
    delta = Math.max(-m, Math.min(m, delta));
    if (delta > 0) { const v = Math.floor(210 * (m - delta) / m); return "rgb(255," + v + "," + v + ")"; }
    if (delta < 0) { const v = Math.floor(210 * (m + delta) / m); return "rgb(" + v + "," + v + ",255)"; }
    return "rgb(255,255,255)";
  }

  function color(i, d = data) {
    if (d.name[i] < 0) return "rgb(200,200,200)";
    if (matchName && matchName[d.name[i]]) return "rgb(230,0,230)";
    if (d.diff && d.before) return diffColor(i);
    if (d.cpu) return wallColor(d, i);
    return hot(d.names[d.name[i]]);
  }

  let charW = 7;
  // paint draws view d on canvas cv, zoomed to frame z: its callers span
  // the width, dimmed; frames under a device pixel are skipped. It returns
  // where each frame went, per depth, left to right.
  function paint(cv, d, z, icicle) {
    const c2 = cv.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    const W = Math.max(100, cv.clientWidth);
    const nrows = Math.min(d.maxDepth + 1, MAXROWS);
    cv.style.height = nrows * H + "px";
    cv.width = Math.round(W * dpr);
    cv.height = Math.round(nrows * H * dpr);
    c2.setTransform(dpr, 0, 0, dpr, 0, 0);
    c2.font = "12px system-ui, sans-serif";
    c2.textBaseline = "middle";
    charW = c2.measureText("abcdefghijklmnopqrstuvwxyz_ABCDEF").width / 32;
    const out = { rows: [], names: [], d, icicle, nrows, cv, W };
    const minW = 1 / dpr; // narrower than a device pixel: not drawn
    const y = (depth) => (icicle ? depth : nrows - 1 - depth) * H;
    const frame = (i, x, w, dim) => {
      const depth = d.depth[i];
      if (depth >= MAXROWS) return;
      (out.rows[depth] || (out.rows[depth] = [])).push([x, w, i]);
      c2.globalAlpha = dim ? 0.55 : 1;
      c2.fillStyle = color(i, d);
      const yy = y(depth);
      c2.fillRect(x, yy, Math.max(w - 0.5, minW), H - 1);
      const nm = nameOf(i, d);
      out.names.push(nm);
      if (w > 3 * charW + 6) {
        const fit = Math.floor((w - 6) / charW);
        const label = nm.length <= fit ? nm : nm.slice(0, Math.max(fit - 2, 1)) + "..";
        c2.fillStyle = "#000";
        c2.fillText(label, x + 3, yy + H / 2);
      }
    };
    for (let a = d.parent[z]; a >= 0; a = d.parent[a]) frame(a, 0, W, true);
    const zt = d.total[z];
    if (zt > 0) {
      const scale = W / zt;
      const walk = (i, x) => {
        const w = d.total[i] * scale;
        if (w < minW) return;
        frame(i, x, w, false);
        const end = i + d.size[i];
        for (let c = i + 1; c < end; c += d.size[c]) {
          walk(c, x);
          x += d.total[c] * scale;
        }
      };
      walk(z, 0);
    }
    for (const r of out.rows) if (r) r.sort((a, b) => a[0] - b[0]);
    c2.globalAlpha = 1;
    return out;
  }

  let painted = null; // the main canvas's paint
  function draw() {
    const t0 = performance.now();
    const d = data;
    painted = paint(canvas, d, zoom, st.icicle);
    rows = painted.rows;
    hook.draws++;
    hook.drawn = painted.names.length;
    hook.names = painted.names;
    hook.zoom = d.parent[zoom] < 0 ? "" : nameOf(zoom);
    hook.view = d.root; // the view's own root: > 0 in a fetched subtree view
    hook.drawMs = performance.now() - t0;
    if (!hook.firstDrawAt) hook.firstDrawAt = performance.now();
    $("reset").disabled = d.parent[zoom] < 0;
    $("walllegend").classList.toggle("hide", !wallMode(d));
    hook.wallMode = wallMode(d);
    if (sandwich) drawSandwich();
  }

  // The sandwich view: one function's callers above it (a flame graph of
  // callers) and its callees below (an icicle), merged over every place
  // it occurs.
  let sandwich = null; // { fn, callers, callees, up, down, zup, zdown } while shown
  async function openSandwich(fn) {
    let j;
    try {
      j = await getJSON(treeURL().replace("api/tree", "api/sandwich") + "&v=" + encodeURIComponent(whole.version) + "&fn=" + encodeURIComponent(fn));
    } catch (e) {
      status(String(e.message), true);
      return;
    }
    sandwich = { fn, callers: prepare(j.callers), callees: prepare(j.callees), zup: 0, zdown: 0 };
    $("sandwich").classList.remove("hide");
    $("swname").textContent = fn;
    drawSandwich();
    $("sandwich").scrollIntoView({ block: "nearest" });
  }
  function closeSandwich() {
    sandwich = null;
    hook.sandwich = null;
    $("sandwich").classList.add("hide");
  }
  function drawSandwich() {
    const sw = sandwich;
    sw.up = paint($("callers"), sw.callers, sw.zup, false);
    sw.down = paint($("callees"), sw.callees, sw.zdown, true);
    hook.sandwich = {
      fn: sw.fn, callers: sw.up.names, callees: sw.down.names, total: sw.callers.total[0],
      callersZoom: sw.zup ? nameOf(sw.zup, sw.callers) : "", calleesZoom: sw.zdown ? nameOf(sw.zdown, sw.callees) : "",
    };
    hook.sandwichDraws = (hook.sandwichDraws || 0) + 1;
  }

  // Where the frame named nm was drawn, in client coordinates, in the
  // flame graph or in a pane of the sandwich ("callers", "callees"); for
  // tests.
  hook.rectOf = (nm, pane) => {
    const pt = pane ? sandwich && sandwich[pane === "callers" ? "up" : "down"] : painted;
    if (!pt) return null;
    const b = pt.cv.getBoundingClientRect();
    for (let depth = 0; depth < pt.rows.length; depth++) {
      for (const [x, w, i] of pt.rows[depth] || []) {
        if (nameOf(i, pt.d) === nm) {
          const yy = (pt.icicle ? depth : pt.nrows - 1 - depth) * H;
          return { x: b.left + x, y: b.top + yy, w, h: H - 1 };
        }
      }
    }
    return null;
  };

  function at(ev, pt = painted) {
    if (!pt) return -1;
    const b = pt.cv.getBoundingClientRect();
    const x = ev.clientX - b.left, yy = ev.clientY - b.top;
    const row = Math.floor(yy / H);
    const depth = pt.icicle ? row : pt.nrows - 1 - row;
    for (const [fx, w, i] of pt.rows[depth] || []) if (x >= fx && x < fx + Math.max(w, 1)) return i;
    return -1;
  }

  function fmt(v) {
    const u = data ? data.unit : "";
    if (u === "nanoseconds") {
      const a = Math.abs(v);
      if (a >= 1e9) return (v / 1e9).toFixed(2) + " s";
      if (a >= 1e6) return (v / 1e6).toFixed(2) + " ms";
      if (a >= 1e3) return (v / 1e3).toFixed(1) + " µs";
      return v + " ns";
    }
    return Math.round(v).toLocaleString("en-US") + (u === "count" || u === "" ? "" : " " + u);
  }
  const pct = (a, b) => (b > 0 ? (100 * a / b).toFixed(2) : "0.00") + "%";

  function tipText(d, i) {
    const nm = nameOf(i, d);
    if (d.name[i] < 0) return "(narrow)\n" + fmt(d.total[i]) + " (" + pct(d.total[i], d.sum) + " of all) in frames each under 1/" + NARROW + " of the view, merged: click to zoom in";
    let text = nm + "\n" + fmt(d.total[i]) + " (" + pct(d.total[i], d.sum) + " of all), self " + fmt(d.self[i]);
    if (d.diff && d.before) {
      const b = d.before[i] * d.scale;
      text += "\nbase " + fmt(b) + " → " + fmt(d.total[i]) + " (" + (d.total[i] >= b ? "+" : "") + pct(d.total[i] - b, d.sum) + " of all)";
    }
    if (d.cpu) {
      const f = onShare(d, i);
      if (f !== null) {
        const on = Math.round(100 * f);
        text += "\non-CPU " + on + "% · blocked " + (100 - on) + "%";
      }
    }
    return text;
  }

  function showTip(el, box, ev, text) {
    el.textContent = text;
    el.classList.remove("hide");
    const g = box.getBoundingClientRect();
    let left = ev.clientX - g.left + 12;
    if (left + 320 > g.width) left = Math.max(0, ev.clientX - g.left - 330);
    el.style.left = left + "px";
    el.style.top = ev.clientY - g.top + 14 + "px";
    hook.tip = text;
  }

  canvas.addEventListener("mousemove", (ev) => {
    const i = at(ev);
    if (i < 0) { tip.classList.add("hide"); return; }
    showTip(tip, $("graph"), ev, tipText(data, i));
  });
  canvas.addEventListener("mouseleave", () => tip.classList.add("hide"));
  canvas.addEventListener("click", (ev) => {
    const i = at(ev);
    if (i < 0) return;
    if ((ev.shiftKey || ev.altKey) && data.name[i] > 0) { openSandwich(nameOf(i)); return; }
    setZoom(data.name[i] < 0 ? data.parent[i] : i);
  });
  for (const [id, side] of [["callers", "up"], ["callees", "down"]]) {
    const cv = $(id);
    cv.addEventListener("mousemove", (ev) => {
      const pt = sandwich && sandwich[side];
      const i = at(ev, pt);
      if (i < 0) { $("swtip").classList.add("hide"); return; }
      showTip($("swtip"), $("sandwich"), ev, tipText(pt.d, i));
    });
    cv.addEventListener("mouseleave", () => $("swtip").classList.add("hide"));
    // A click zooms the pane into a frame, as in the flame graph (a
    // dimmed caller zooms back out to it); Shift+click shows that
    // function's own sandwich.
    cv.addEventListener("click", (ev) => {
      const pt = sandwich && sandwich[side];
      const i = at(ev, pt);
      if (i < 0) return;
      if ((ev.shiftKey || ev.altKey) && pt.d.name[i] > 0) { openSandwich(nameOf(i, pt.d)); return; }
      sandwich[side === "up" ? "zup" : "zdown"] = pt.d.name[i] < 0 ? Math.max(pt.d.parent[i], 0) : i;
      drawSandwich();
    });
  }
  $("swclose").addEventListener("click", closeSandwich);

  async function setZoom(i) {
    st.zoomPath = pathOf(i);
    await zoomToPath(st.zoomPath, loading);
    draw();
  }

  // Search: frames whose name matches are highlighted; the matched share is
  // of all samples, each sample counted once however many matched frames
  // it has (a matched frame's subtree is skipped).
  // The share is the server's: the view holds merged narrow frames.
  let searching = 0;
  async function runSearch() {
    const q = $("search").value;
    const my = ++searching;
    if (!whole || q === "") {
      matchName = null;
      hook.matched = null;
      hook.matchedText = "";
      $("matched").textContent = "";
      return;
    }
    let re;
    try { re = new RegExp(q); } catch (e) { re = new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")); }
    const d = whole;
    const mn = new Uint8Array(d.names.length);
    for (let k = 1; k < d.names.length; k++) if (re.test(d.names[k])) mn[k] = 1;
    let m;
    try {
      m = (await getJSON(treeURL().replace("api/tree", "api/search") + "&v=" + encodeURIComponent(d.version) + "&q=" + encodeURIComponent(q))).matched;
    } catch (e) {
      if (my === searching) status(String(e.message), true);
      return;
    }
    if (my !== searching) return;
    matchName = mn;
    hook.matched = d.sum > 0 ? m / d.sum : 0;
    hook.matchedText = "Matched: " + pct(m, d.sum) + " (" + fmt(m) + ")";
    $("matched").textContent = hook.matchedText;
  }

  // The top table: per function, self and total, a function counted once
  // per stack however often it recurses.
  let top = [];
  function buildTop() {
    const d = whole;
    const nn = d.names.length;
    const self = d.fself, total = d.ftotal; // the server's, over every frame
    top = [];
    for (let k = 1; k < nn; k++) if (total[k] > 0 || self[k] > 0) top.push({ name: d.names[k], self: self[k], total: total[k] });
    renderTop();
  }

  function renderTop() {
    const f = $("topfilter").value.toLowerCase();
    const key = st.sortKey === "selfp" ? "self" : st.sortKey === "totalp" ? "total" : st.sortKey;
    const rowsT = top.filter((r) => f === "" || r.name.toLowerCase().includes(f));
    rowsT.sort((a, b) => {
      const c = key === "name" ? a.name.localeCompare(b.name) : a[key] - b[key] || b.total - a.total;
      return st.sortDesc ? -c : c;
    });
    const body = document.createElement("tbody");
    const sum = whole ? whole.sum : 0;
    for (const r of rowsT.slice(0, 300)) {
      const tr = document.createElement("tr");
      for (const [v, cls] of [[r.name, ""], [fmt(r.self), "num"], [pct(r.self, sum), "num"], [fmt(r.total), "num"], [pct(r.total, sum), "num"]]) {
        const td = document.createElement("td");
        td.textContent = v;
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      const td = document.createElement("td");
      const btn = document.createElement("button");
      btn.textContent = "sandwich";
      btn.title = "callers and callees of this function";
      btn.addEventListener("click", (ev) => { ev.stopPropagation(); openSandwich(r.name); });
      td.appendChild(btn);
      tr.appendChild(td);
      tr.title = r.name;
      tr.addEventListener("click", () => {
        $("search").value = "^" + r.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$";
        runSearch().then(draw);
      });
      body.appendChild(tr);
    }
    $("top").replaceChild(body, $("top").tBodies[0]);
    hook.top = rowsT.slice(0, 20).map((r) => r.name);
  }

  for (const th of document.querySelectorAll("#top th[data-key]")) {
    th.addEventListener("click", () => {
      const k = th.dataset.key;
      st.sortDesc = st.sortKey === k ? !st.sortDesc : k !== "name";
      st.sortKey = k;
      renderTop();
    });
  }

  async function refresh(full) {
    try {
      const j = await getJSON("api/profiles");
      profiles = j.profiles;
      fillSelects();
      // The process menu and the tree are independent: fetch them at once.
      await Promise.all([full ? fillProcesses() : null, loadTree()]);
    } catch (e) {
      status(String(e.message), true);
    }
  }

  // Live profiles grow: poll every 2 s, redraw when the profile (or the
  // diff's base) changed, keeping the zoom.
  async function poll() {
    try {
      const j = await getJSON("api/profiles");
      const v = (ps) => ps.filter((p) => p.id === st.p || String(p.id) === st.base).map((p) => p.id + ":" + p.version).join(",");
      const changed = v(j.profiles) !== v(profiles) || j.profiles.length !== profiles.length;
      profiles = j.profiles;
      if (changed) {
        fillSelects();
        await fillProcesses(); // a live profile meets new processes
        await loadTree();
      }
    } catch (e) {
      status("cannot reach the server: " + e.message, true);
    }
  }

  $("profile").addEventListener("change", () => { st.p = Number($("profile").value); st.proc = ""; st.zoomPath = []; refresh(true); });
  $("type").addEventListener("change", () => { st.type = $("type").value; refresh(true); });
  $("base").addEventListener("change", () => { st.base = $("base").value; refresh(false); });
  $("process").addEventListener("change", () => { st.proc = $("process").value; st.zoomPath = []; fillSelects(); loadTree(); });
  $("thread").addEventListener("change", () => { st.tid = $("thread").value; st.zoomPath = []; fillSelects(); loadTree(); });
  $("normalize").addEventListener("change", () => loadTree());
  $("search").addEventListener("input", () => runSearch().then(() => { if (data) draw(); }));
  $("topfilter").addEventListener("input", renderTop);
  $("reset").addEventListener("click", () => setZoom(0));
  $("icicle").addEventListener("click", () => { st.icicle = !st.icicle; $("icicle").textContent = st.icicle ? "Flame" : "Icicle"; draw(); });
  window.addEventListener("resize", () => { if (data) draw(); });
  // The canvas's width also changes when a scrollbar comes or goes with the
  // page's height (the top table filtered, the sandwich shown), where
  // scrollbars take room, as Firefox's do: redraw then too, on the next
  // frame (drawing resizes the canvas, which would notify this again).
  new ResizeObserver(() => requestAnimationFrame(() => {
    if (painted && Math.max(100, canvas.clientWidth) !== painted.W) draw();
  })).observe(canvas);

  document.addEventListener("keydown", (ev) => {
    const inField = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement;
    if (ev.key === "Escape" && sandwich && !inField) { closeSandwich(); return; }
    if (ev.key === "Escape") {
      $("search").value = "";
      runSearch().then(() => { if (data) draw(); });
      if (inField) ev.target.blur();
      return;
    }
    if (inField || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const c = cur();
    switch (ev.key) {
      case "/": ev.preventDefault(); $("search").focus(); break;
      case "t": ev.preventDefault(); $("topfilter").focus(); break;
      case "r": setZoom(0); break;
      case "i": $("icicle").click(); break;
      case "s":
        if (c && c.types.length > 1) {
          const k = c.types.findIndex((t) => t.type === st.type);
          st.type = c.types[(k + 1) % c.types.length].type;
          refresh(true);
        }
        break;
      case "p": case "P":
        if (profiles.length > 1) {
          const k = profiles.findIndex((p) => p.id === st.p);
          st.p = profiles[(k + (ev.key === "p" ? 1 : profiles.length - 1)) % profiles.length].id;
          st.proc = "";
          st.zoomPath = [];
          refresh(true);
        }
        break;
      case "d":
        if (profiles.length > 1) {
          const k = profiles.findIndex((p) => p.id === st.p);
          st.base = st.base === "" ? String(profiles[(k + profiles.length - 1) % profiles.length].id) : "";
          refresh(false);
        }
        break;
    }
  });

  // Test hooks to drive the page without the mouse.
  hook.search = async (q) => { $("search").value = q; await runSearch(); draw(); return hook.matched; };
  hook.setBase = async (id) => { st.base = id === null ? "" : String(id); await refresh(false); };
  hook.setProcess = async (v) => { st.proc = v; st.zoomPath = []; fillSelects(); await loadTree(); };
  hook.setThread = async (v) => { st.tid = v; st.zoomPath = []; fillSelects(); await loadTree(); };
  hook.setType = async (t) => { st.type = t; await refresh(true); };
  hook.sandwichOf = async (fn) => { await openSandwich(fn); return hook.sandwich; };
  hook.zoomTo = async (nm) => {
    for (let i = 0; i < data.total.length; i++) if (nameOf(i) === nm) { await setZoom(i); return true; }
    return false;
  };
  hook.color = (nm) => {
    for (let i = 0; i < data.total.length; i++) if (data.names[data.name[i]] === nm) return color(i);
    return null;
  };

  refresh(true);
  setInterval(poll, 2000);
})();
