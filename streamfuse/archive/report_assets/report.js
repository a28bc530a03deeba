"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const app = document.getElementById("app");
  const PALETTE = ["#2f6fed", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c940d",
                   "#a61e4d", "#1864ab", "#862e9c", "#d9480f"];
  const colours = {};
  function colour(key) {
    if (!(key in colours)) colours[key] = PALETTE[Object.keys(colours).length % PALETTE.length];
    return colours[key];
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "style") Object.assign(node.style, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  }
  function fmt(t) {
    t = Math.max(0, Number(t) || 0);
    const m = Math.floor(t / 60), s = t - 60 * m;
    return (m ? m + ":" + s.toFixed(2).padStart(5, "0") : s.toFixed(2) + " s");
  }
  function span(a, b) { return fmt(a) + " – " + fmt(b); }
  function highlight(text, words) {
    const out = document.createDocumentFragment();
    if (!words.length) { out.append(text); return out; }
    const lower = text.toLowerCase();
    let i = 0;
    while (i < text.length) {
      let best = -1, len = 0;
      for (const w of words) {
        const j = lower.indexOf(w, i);
        if (j >= 0 && (best < 0 || j < best)) { best = j; len = w.length; }
      }
      if (best < 0) { out.append(text.slice(i)); break; }
      out.append(text.slice(i, best), el("mark", {}, text.slice(best, best + len)));
      i = best + len;
    }
    return out;
  }

  if (document.body.classList.contains("summary")) return summary();
  page();

  function summary() {
    const inputs = data.inputs || [];
    const total = inputs.reduce((a, r) => a + (r.duration || 0), 0);
    const search = el("input", { type: "search", id: "search", placeholder: "Filter inputs…" });
    app.append(el("header", {}, el("h1", {}, "streamfuse archive"),
      el("span", { class: "meta" }, inputs.length + " inputs, " + (total / 60).toFixed(1) + " min of media"), search));
    const body = el("tbody");
    for (const r of inputs) {
      const chips = el("td");
      for (const [k, v] of Object.entries(r.counts || {})) {
        chips.append(el("span", { class: "chip", style: { background: colour(k) } }, k + " " + v));
      }
      const tr = el("tr", { "data-text": (r.name + " " + r.source + " " + Object.keys(r.counts || {}).join(" ")).toLowerCase() },
        el("td", {}, r.thumb ? el("img", { src: r.thumb, alt: "" }) : el("span", { class: "muted" }, "—")),
        el("td", {}, el("a", { href: r.page }, r.name), el("div", { class: "muted" }, r.source)),
        el("td", {}, fmt(r.duration)), el("td", {}, (r.streams || []).join(", ")), chips);
      body.append(tr);
    }
    app.append(el("main", {}, el("section", {}, el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, "input"), el("th", {}, "duration"),
        el("th", {}, "streams"), el("th", {}, "events"))), body))));
    search.addEventListener("input", () => {
      const q = search.value.trim().toLowerCase();
      for (const tr of body.children) tr.style.display = !q || tr.dataset.text.includes(q) ? "" : "none";
    });
  }

  function page() {
    const D = Math.max(data.duration || 0, 0.001);
    const pct = (t) => (100 * Math.min(Math.max(t, 0), D) / D) + "%";
    const search = el("input", { type: "search", id: "search", placeholder: "Search events, transcript, descriptions…" });
    const counts = Object.entries(data.counts || {}).map(([k, v]) => k + " " + v).join(", ") || "no events";
    app.append(el("header", {}, el("a", { href: data.index }, "← archive"), el("h1", {}, data.name),
      el("span", { class: "meta" }, fmt(data.duration) + " · " + (data.streams || []).join(", ") + " · " + counts),
      search));
    const main = el("main");
    app.append(main);
    main.append(el("div", { class: "meta muted", style: { margin: "0 0 10px" } }, data.source));

    // timeline: thumbnails, lanes, strips, axis
    const tl = el("div", { class: "timeline", id: "timeline" });
    let th = null;
    if (data.thumbs && data.thumbs.length) {
      th = el("div", { class: "thumbs" });
      for (const t of data.thumbs) {
        const fig = el("figure", { style: { left: pct(t.t) } }, el("img", { src: t.src, alt: "frame at " + fmt(t.t) }),
          el("figcaption", {}, fmt(t.t)));
        fig._t = t.t;
        th.append(fig);
      }
      tl.append(th);
    }
    function layoutThumbs() {
      // as many key frames as fit side by side at this width, spread over the clip
      if (!th) return;
      const width = th.clientWidth, room = 100;
      let last = -Infinity;
      for (const fig of th.children) {
        const x = width * Math.min(fig._t, D) / D;
        const fits = x - last >= room && x + room / 2 <= width + room / 2;
        fig.style.display = fits ? "" : "none";
        if (fits) last = x;
      }
    }
    const types = [...new Set(data.events.map((e) => e.type))];
    const buttons = [];
    for (const type of types) {
      const track = el("div", { class: "track" });
      for (const e of data.events.filter((x) => x.type === type)) {
        const instant = !(e.end > e.start);
        const b = el("button", {
          class: "ev" + (instant ? " instant" : ""), type: "button", title: type + (e.label && e.label !== type ? " (" + e.label + ")" : "") + ": " + span(e.start, e.end),
          "data-type": type, "data-start": e.start, "data-end": e.end,
          style: { left: pct(e.start), width: instant ? "" : "calc(" + pct(e.end - e.start) + " + 0px)", background: colour(type) },
          onclick: () => show(e, b),
        });
        if (!instant && e.label && e.label !== type) b.append(el("span", {}, e.label));
        b._event = e;
        b._text = [type, e.label, e.text].filter(Boolean).join(" ").toLowerCase();
        buttons.push(b);
        track.append(b);
      }
      tl.append(el("div", { class: "lane", "data-type": type }, el("div", { class: "name", title: type }, type), track));
    }
    if (!types.length) tl.append(el("div", { class: "muted" }, "no events"));
    const level = el("div", { class: "track", id: "level" });
    const sounds = el("div", { class: "track", id: "sounds" });
    data.windows.forEach((w, i) => {
      // windows overlap (length > hop): each cell runs to the next window's start
      const next = data.windows[i + 1];
      const hop = (next && next.start > w.start ? Math.min(next.start, w.end) : w.end) - w.start;
      if (w.dbfs !== null && w.dbfs !== undefined) {
        const x = Math.min(1, Math.max(0, (w.dbfs + 60) / 60));
        level.append(el("div", { class: "cell", title: span(w.start, w.end) + ": " + w.dbfs.toFixed(1) + " dBFS",
          style: { left: pct(w.start), width: pct(hop), background: "rgba(47,111,237," + (0.08 + 0.9 * x).toFixed(2) + ")" } }));
      }
      if (w.sound) {
        const prev = sounds.lastChild;
        if (prev && prev._sound === w.sound && Math.abs(prev._end - w.start) < 1e-6) {
          // one cell for a run of windows with the same top sound
          prev._end = w.start + hop;
          prev.style.width = pct(prev._end - prev._start);
          prev.title = span(prev._start, prev._end) + ": " + w.sound;
        } else {
          const cell = el("div", { class: "cell", title: span(w.start, w.start + hop) + ": " + w.sound,
            style: { left: pct(w.start), width: pct(hop), background: colour("sound:" + w.sound) } }, el("span", {}, w.sound));
          cell._sound = w.sound; cell._start = w.start; cell._end = w.start + hop;
          sounds.append(cell);
        }
      }
    });
    tl.append(el("div", { class: "strip" }, el("div", { class: "name" }, "audio level"), level));
    tl.append(el("div", { class: "strip" }, el("div", { class: "name" }, "sound"), sounds));
    const axis = el("div", { class: "axis" });
    const step = niceStep(D);
    for (let t = 0; t <= D + 1e-9; t += step) axis.append(el("span", { style: { left: pct(t) } }, fmt(t)));
    tl.append(axis);
    main.append(el("section", {}, el("h2", {}, "Timeline"), tl));
    layoutThumbs();
    window.addEventListener("resize", layoutThumbs);

    const detail = el("div", { id: "detail" }, el("span", { class: "empty" }, "Click an event to see its time and evidence."));
    main.append(el("section", {}, el("h2", {}, "Event"), detail));

    const transcript = el("div", { class: "list", id: "transcript" });
    for (const s of data.transcript) transcript.append(row(s.start, s.end, s.text));
    if (!data.transcript.length) transcript.append(el("div", { class: "muted" }, "no transcript"));
    const descriptions = el("div", { class: "list", id: "descriptions" });
    for (const w of data.windows) descriptions.append(row(w.start, w.end, w.description));
    main.append(el("div", { class: "cols" }, el("section", {}, el("h2", {}, "Transcript"), transcript),
      el("section", {}, el("h2", {}, "Window descriptions"), descriptions)));

    function row(a, b, text) {
      const r = el("div", { class: "row" }, el("span", { class: "t" }, span(a, b)), el("span", { class: "x" }, text));
      r._text = String(text || "");
      return r;
    }
    function show(e, button) {
      for (const b of buttons) b.classList.remove("sel");
      button.classList.add("sel");
      detail.replaceChildren(el("div", { class: "kv" },
        el("b", {}, "type"), el("span", { id: "detail-type" }, e.type + (e.label && e.label !== e.type ? " (" + e.label + ")" : "")),
        el("b", {}, "time"), el("span", { id: "detail-time" }, span(e.start, e.end)),
        el("b", {}, "confidence"), el("span", {}, e.confidence === null || e.confidence === undefined ? "—" : Number(e.confidence).toFixed(2)),
        el("b", {}, "text"), el("span", {}, e.text || "—"), el("b", {}, "id"), el("span", { class: "muted" }, e.id)),
        el("pre", { id: "detail-evidence" }, JSON.stringify(e.evidence || {}, null, 1)));
    }
    search.addEventListener("input", () => {
      const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      const hit = (t) => words.every((w) => t.toLowerCase().includes(w));
      for (const b of buttons) b.classList.toggle("dim", words.length > 0 && !hit(b._text));
      for (const list of [transcript, descriptions]) {
        for (const r of list.children) {
          if (r._text === undefined) continue;
          r.classList.toggle("hidden", words.length > 0 && !hit(r._text));
          r.lastChild.replaceChildren(highlight(r._text, words));
        }
      }
    });
  }
  function niceStep(d) {
    const raw = d / 8;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
    return 10 * p;
  }
})();
