"use strict";
// Interactivity for ember's flame graphs: details on hover, click to zoom,
// regexp search with the share of samples matched, and the zoom and search
// kept in the URL so that a link reopens the same view. Each frame is a
// <rect> in #frames whose data-title is its tooltip ("name (N samples, P%)"),
// followed by its <text> label if it is wide enough for one; a frame given
// --nameattr attributes sits in an <a> or <g> of its own.
//
// Nothing walks the frames on load: a large graph opens as fast as the
// browser can draw it. The list of frames is built on the first zoom or
// search, which need them all anyway.
(function () {
	var svg = document.documentElement;
	var svgns = "http://www.w3.org/2000/svg";
	var cfg = {};
	var ui = {};
	var root = null;
	var frames = null; // built by allFrames
	var state = { zoom: -1, term: null, ignoreCase: false };
	var eps = 0.0001;

	function attrNum(e, name) {
		return parseFloat(e.getAttribute(name));
	}

	function init() {
		cfg.nametype = svg.getAttribute("data-nametype") || "Function:";
		cfg.fontsize = attrNum(svg, "data-fontsize") || 12;
		cfg.fontwidth = attrNum(svg, "data-fontwidth") || 0.59;
		cfg.xpad = attrNum(svg, "data-xpad") || 10;
		cfg.inverted = svg.getAttribute("data-inverted") === "1";
		cfg.full = attrNum(svg, "width") - 2 * cfg.xpad;
		["details", "unzoom", "search", "ignorecase", "matched"].forEach(function (id) {
			ui[id] = document.getElementById(id);
		});
		root = document.getElementById("frames");
		root.addEventListener("mouseover", function (e) {
			var r = rectOf(e.target);
			if (!r) return;
			var info = r.getAttribute("data-title");
			ui.details.textContent = cfg.nametype + " " + info;
			if (!r.firstChild) {
				// The native tooltip, which the SVG leaves out to open faster.
				var title = document.createElementNS(svgns, "title");
				title.textContent = info;
				r.appendChild(title);
			}
		});
		root.addEventListener("mouseout", function (e) {
			if (rectOf(e.target)) ui.details.textContent = " ";
		});
		svg.addEventListener("click", onClick);
		window.addEventListener("keydown", onKey);
		var p = getParams();
		if (p.i === "1") setIgnoreCase(true);
		if (p.x !== undefined && p.y !== undefined) {
			var list = allFrames();
			for (var j = 0; j < list.length; j++) {
				if (list[j].xAttr === p.x && list[j].yAttr === p.y) {
					zoom(j);
					break;
				}
			}
		}
		if (p.s) search(p.s);
	}

	// allFrames reads every frame's geometry and label once, when a zoom or
	// search first needs them.
	function allFrames() {
		if (frames) return frames;
		frames = [];
		var rects = root.getElementsByTagName("rect");
		for (var i = 0; i < rects.length; i++) {
			var r = rects[i];
			var info = r.getAttribute("data-title");
			if (info === null) continue;
			var cut = info.lastIndexOf(" (");
			var text = r.nextElementSibling;
			if (text && text.nodeName !== "text") text = null;
			r.emberFrame = frames.length;
			frames.push({
				r: r, text: text, info: info,
				name: cut >= 0 ? info.substring(0, cut) : info,
				x: attrNum(r, "x"), w: attrNum(r, "width"), y: attrNum(r, "y"),
				xAttr: r.getAttribute("x"), yAttr: r.getAttribute("y"),
				wAttr: r.getAttribute("width"), fill: r.getAttribute("fill"),
				label: text ? text.textContent : "", textX: text ? text.getAttribute("x") : null,
				hidden: false, parent: false
			});
		}
		return frames;
	}

	// rectOf returns the frame <rect> an event target is or belongs to, or
	// null. Labels take no pointer events, but a viewer may ignore that.
	function rectOf(node) {
		if (node && node.nodeName === "title") node = node.parentNode;
		if (node && node.nodeName === "text") node = node.previousElementSibling;
		if (node && node.nodeName === "rect" && node.hasAttribute("data-title")) return node;
		return null;
	}

	function onClick(e) {
		var r = rectOf(e.target);
		if (r) {
			if (r.parentNode.nodeName === "a") {
				// A link (--nameattr): ctrl-click follows it, a click zooms.
				if (e.ctrlKey) return;
				e.preventDefault();
			}
			allFrames();
			zoom(r.emberFrame);
			return;
		}
		var id = e.target.id;
		if (id === "unzoom") unzoom();
		else if (id === "search") {
			if (state.term !== null) resetSearch();
			else searchPrompt();
		} else if (id === "ignorecase") setIgnoreCase(!state.ignoreCase);
	}
	function onKey(e) {
		if (e.key === "F3" || (e.ctrlKey && (e.key === "f" || e.key === "F"))) {
			e.preventDefault();
			searchPrompt();
		} else if (e.ctrlKey && (e.key === "i" || e.key === "I")) {
			e.preventDefault();
			setIgnoreCase(!state.ignoreCase);
		}
	}

	// URL state: x and y name the zoomed frame, s the search, i the case.
	function getParams() {
		var p = {};
		var parts = window.location.search.substring(1).split("&");
		for (var i = 0; i < parts.length; i++) {
			var kv = parts[i].split("=");
			if (kv.length < 2 || !kv[0]) continue;
			try {
				p[kv[0]] = decodeURIComponent(kv.slice(1).join("="));
			} catch (err) {
				// A malformed parameter is ignored.
			}
		}
		return p;
	}

	function setParams(change) {
		var p = getParams();
		for (var k in change) {
			if (change[k] === null) delete p[k];
			else p[k] = change[k];
		}
		var q = [];
		Object.keys(p).sort().forEach(function (k) {
			q.push(encodeURIComponent(k) + "=" + encodeURIComponent(p[k]));
		});
		var url = window.location.pathname + (q.length ? "?" + q.join("&") : "") + window.location.hash;
		try {
			history.replaceState(null, "", url);
		} catch (err) {
			// Some viewers (file: URLs in some browsers) refuse; the view still works.
		}
	}

	// fit shortens a label to what a box w pixels wide holds, as the SVG's
	// writer does.
	function fit(name, w) {
		var chars = Math.floor(w / (cfg.fontsize * cfg.fontwidth));
		if (chars < 3) return "";
		if (name.length <= chars) return name;
		return name.substring(0, chars - 2) + "..";
	}

	// setClass shows or hides a frame, its box and its label alike.
	function setClass(f, hidden, parent) {
		f.r.classList.toggle("hide", hidden);
		f.r.classList.toggle("parent", parent);
		if (f.text) {
			f.text.classList.toggle("hide", hidden);
			f.text.classList.toggle("parent", parent);
		}
		f.hidden = hidden;
		f.parent = parent;
	}

	function place(f, x, w, parent) {
		f.r.setAttribute("x", x.toFixed(2));
		f.r.setAttribute("width", w.toFixed(2));
		var label = fit(f.name, w);
		if (!f.text && label) {
			// Frames too narrow for a label come without a <text>.
			f.text = document.createElementNS(svgns, "text");
			f.text.setAttribute("y", (f.y + attrNum(f.r, "height") / 2 + 3).toString());
			f.r.parentNode.insertBefore(f.text, f.r.nextSibling);
		}
		if (f.text) {
			f.text.setAttribute("x", (x + 3).toFixed(2));
			f.text.textContent = label;
		}
		setClass(f, false, parent);
	}

	function hide(f) {
		setClass(f, true, false);
	}

	function restore(f) {
		f.r.setAttribute("x", f.xAttr);
		f.r.setAttribute("width", f.wAttr);
		if (f.text) {
			if (f.textX !== null) f.text.setAttribute("x", f.textX);
			f.text.textContent = f.label;
		}
		setClass(f, false, false);
	}

	// isAncestor says whether frame a is below (nearer the root than) frame b
	// and spans it.
	function isAncestor(a, b) {
		var nearer = cfg.inverted ? a.y < b.y : a.y > b.y;
		return nearer && a.x <= b.x + eps && a.x + a.w >= b.x + b.w - eps;
	}

	function zoom(i) {
		allFrames();
		var t = frames[i];
		if (t.w >= cfg.full - eps) {
			// The root, or a frame as wide: that is no zoom at all.
			unzoom();
			return;
		}
		state.zoom = i;
		var ratio = cfg.full / t.w;
		for (var j = 0; j < frames.length; j++) {
			var f = frames[j];
			if (f === t) {
				place(f, cfg.xpad, cfg.full, false);
			} else if (isAncestor(f, t)) {
				place(f, cfg.xpad, cfg.full, true);
			} else if ((cfg.inverted ? f.y > t.y : f.y < t.y) &&
				f.x >= t.x - eps && f.x + f.w <= t.x + t.w + eps) {
				place(f, cfg.xpad + (f.x - t.x) * ratio, f.w * ratio, false);
			} else {
				hide(f);
			}
		}
		ui.unzoom.classList.remove("hide");
		setParams({ x: t.xAttr, y: t.yAttr });
		if (state.term !== null) search(state.term);
	}

	function unzoom() {
		state.zoom = -1;
		if (frames) {
			for (var j = 0; j < frames.length; j++) restore(frames[j]);
		}
		ui.unzoom.classList.add("hide");
		setParams({ x: null, y: null });
		if (state.term !== null) search(state.term);
	}

	function searchPrompt() {
		var term = prompt("Enter a search term (regexp allowed, eg: ^ext4_)" +
			(state.ignoreCase ? ", ignoring case" : "") +
			"\nPress Ctrl-i to toggle case sensitivity", state.term || "");
		if (term !== null && term !== "") search(term);
	}

	function setIgnoreCase(on) {
		state.ignoreCase = on;
		ui.ignorecase.classList.toggle("show", on);
		setParams({ i: on ? "1" : null });
		if (state.term !== null) search(state.term);
	}

	function clearHighlight() {
		if (!frames) return;
		for (var j = 0; j < frames.length; j++) {
			frames[j].r.setAttribute("fill", frames[j].fill);
		}
	}

	// search highlights the frames whose name matches the regexp term and
	// shows the share of the view they cover. A frame inside another matching
	// frame is not counted twice: the covered spans are merged.
	function search(term) {
		var re;
		try {
			re = new RegExp(term, state.ignoreCase ? "i" : "");
		} catch (err) {
			ui.matched.textContent = "Invalid regexp";
			ui.matched.classList.remove("hide");
			return;
		}
		state.term = term;
		allFrames();
		clearHighlight();
		var lo = cfg.xpad, hi = cfg.xpad + cfg.full;
		if (state.zoom >= 0) {
			lo = frames[state.zoom].x;
			hi = lo + frames[state.zoom].w;
		}
		var spans = [];
		for (var j = 0; j < frames.length; j++) {
			var f = frames[j];
			if (!re.test(f.name)) continue;
			f.r.setAttribute("fill", "rgb(230,0,230)");
			if (f.hidden) continue;
			if (f.parent) spans.push([lo, hi]);
			else spans.push([Math.max(f.x, lo), Math.min(f.x + f.w, hi)]);
		}
		spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
		var covered = 0, end = -Infinity;
		for (var k = 0; k < spans.length; k++) {
			var s = Math.max(spans[k][0], end);
			if (spans[k][1] > s) {
				covered += spans[k][1] - s;
				end = spans[k][1];
			}
		}
		var pct = hi > lo ? 100 * covered / (hi - lo) : 0;
		ui.matched.textContent = "Matched: " + (Math.abs(pct - 100) < 1e-9 ? "100" : pct.toFixed(1)) + "%";
		ui.matched.classList.remove("hide");
		ui.search.classList.add("show");
		ui.search.textContent = "Reset Search";
		setParams({ s: term });
	}

	function resetSearch() {
		state.term = null;
		clearHighlight();
		ui.matched.classList.add("hide");
		ui.matched.textContent = " ";
		ui.search.classList.remove("show");
		ui.search.textContent = "Search";
		setParams({ s: null });
	}

	// For pages that embed the graph, and for tests.
	window.flamegraph = { search: search, resetSearch: resetSearch, unzoom: unzoom };

	if (document.readyState === "complete") init();
	else window.addEventListener("load", init);
})();
