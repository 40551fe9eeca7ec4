// stabmon report: hover, drag-to-zoom and zoom-out for the inline SVG charts. No libraries, no network, no eval.
// Every text from the data is set with textContent, never parsed as markup.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var svgs = Array.prototype.slice.call(document.querySelectorAll("svg.chart"));
  if (!svgs.length) { return; }
  var NS = svgs[0].namespaceURI;
  var L = D.left, W = D.width, SPAN = Math.max(D.span, 1);
  var view = [0, SPAN];
  var DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

  function undelta(a) { var out = new Array(a.length), s = 0; for (var i = 0; i < a.length; i++) { s += a[i]; out[i] = s; } return out; }
  D.charts.forEach(function (c) {
    c.series.forEach(function (s) { s.t = undelta(s.t); s.brk = {}; s.b.forEach(function (k) { s.brk[k] = true; }); });
    (c.lanes || []).forEach(function (l) { l.t = undelta(l.t); });
  });
  var MT = undelta(D.m.t);

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function h(tag, cls, text, parent) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function r1(v) { return Math.round(v * 10) / 10; }
  function xOf(t) { return L + (t - view[0]) / (view[1] - view[0]) * W; }
  function tOf(x) { return view[0] + (x - L) / W * (view[1] - view[0]); }
  function yOf(c, v) { var f = c.ymax > 0 ? v / c.ymax : 0; f = Math.max(0, Math.min(1, f)); return c.top + (c.vh || c.h) * (1 - f); }
  // Durations, sizes and percentages as stabmon_core::human writes them on the page (the same rules, here for hover).
  function two(a, au, b, bu) { return a + " " + au + (b ? " " + b + " " + bu : ""); }
  function ms(us) {
    var v = us / 1000;
    if (v === 0) { return "0 s"; }
    if (v < 9950) { return v >= 999.5 ? (v / 1000).toFixed(1) + " s" : v >= 9.95 ? v.toFixed(0) + " ms" : v >= 0.995 ? v.toFixed(1) + " ms" : v.toFixed(2) + " ms"; }
    var s = Math.round(v / 1000);
    return s < 60 ? s + " s" : s < 3600 ? two(Math.floor(s / 60), "min", s % 60, "s") : s < 86400 ? two(Math.floor(s / 3600), "h", Math.floor(s % 3600 / 60), "min") : two(Math.floor(s / 86400), "d", Math.floor(s % 86400 / 3600), "h");
  }
  function bytes(b) {
    if (b < 1000) { return Math.round(b) + " B"; }
    var u = ["kB", "MB", "GB", "TB", "PB"], i = -1;
    while (b >= 999.5 && i < u.length - 1) { b /= 1000; i++; }
    return (b < 9.95 ? b.toFixed(1) : b.toFixed(0)) + " " + u[i];
  }
  function pct(p) {
    var a = Math.abs(p);
    if (a === 0) { return "0%"; }
    var t = a >= 9.95 ? p.toFixed(0) : a < 0.095 ? p.toFixed(2) : p.toFixed(1);
    if (t.indexOf(".") >= 0) { t = t.replace(/0+$/, "").replace(/\.$/, ""); }
    return t + "%";
  }

  // Local time of the recorded host: UTC plus the offset in force then.
  function offsetAt(t) { var o = D.off.length ? D.off[0][1] : 0; for (var i = 0; i < D.off.length && D.off[i][0] <= t; i++) { o = D.off[i][1]; } return o; }
  function local(t) { return new Date(D.t0 + t + offsetAt(t) * 1000); }
  function p2(n) { return (n < 10 ? "0" : "") + n; }
  function offStr(o) { var a = Math.abs(o); return (o < 0 ? "-" : "+") + p2(Math.floor(a / 3600)) + ":" + p2(Math.floor(a / 60) % 60); }
  function dayStr(d) { return DAYS[d.getUTCDay()] + " " + d.getUTCDate() + " " + MONTHS[d.getUTCMonth()]; }
  function hms(d) { return p2(d.getUTCHours()) + ":" + p2(d.getUTCMinutes()) + ":" + p2(d.getUTCSeconds()); }
  function fullTime(t) { var d = local(t); return dayStr(d) + " " + hms(d) + " (UTC" + offStr(offsetAt(t)) + ")"; }
  function gb(v) { return bytes(v * 1e9); }

  // Series paths for the current view (one point beyond each edge so lines reach the border).
  function drawSeries(ci) {
    var c = D.charts[ci], svg = svgs[ci], base = r1(c.top + c.h);
    c.series.forEach(function (s, si) {
      var lo = 0, hi = s.t.length - 1;
      while (lo < hi && s.t[lo + 1] < view[0]) { lo++; }
      while (hi > lo && s.t[hi - 1] > view[1]) { hi--; }
      var line = [], area = [], run = false, lastX = 0;
      for (var i = lo; i <= hi; i++) {
        var x = r1(xOf(s.t[i])), y = r1(yOf(c, s.v[i] / s.k)), brk = i > lo && s.brk[i];
        line.push((i === lo || brk ? "M" : "L") + x + "," + y);
        if (s.a) {
          if (brk && run) { area.push("L" + lastX + "," + base + "Z"); run = false; }
          area.push(run ? "L" + x + "," + y : "M" + x + "," + base + "L" + x + "," + y);
          run = true;
        }
        lastX = x;
      }
      if (run) { area.push("L" + lastX + "," + base + "Z"); }
      var ln = svg.querySelector('path.ln[data-s="' + si + '"]');
      if (ln) { ln.setAttribute("d", line.join("")); }
      var ar = svg.querySelector('path.area[data-s="' + si + '"]');
      if (ar) { ar.setAttribute("d", area.join("")); }
    });
    // Failed probes: one tick per pixel column in view.
    (c.lanes || []).forEach(function (l, k) {
      var p = svg.querySelector('path.fl[data-l="' + k + '"]');
      if (!p) { return; }
      var d = [], last = -Infinity;
      for (var i = 0; i < l.t.length; i++) {
        if (l.t[i] < view[0] || l.t[i] > view[1]) { continue; }
        var x = Math.round(xOf(l.t[i]) * 2) / 2;
        if (x - last >= 1) { d.push("M" + x + "," + r1(l.y) + "v7"); last = x; }
      }
      p.setAttribute("d", d.join(""));
    });
  }

  function drawTicks(ci) {
    var c = D.charts[ci], svg = svgs[ci], g = svg.querySelector("g.ticks");
    if (!g) { return; }
    while (g.firstChild) { g.removeChild(g.firstChild); }
    var spanS = (view[1] - view[0]) / 1000, perPx = spanS / W, step = 604800;
    for (var i = 0; i < STEPS.length; i++) { if (STEPS[i] / perPx >= D.tickPx) { step = STEPS[i]; break; } }
    var off = offsetAt(view[0]), align = Math.min(step, 86400);
    var fromS = (D.t0 + view[0]) / 1000, toS = (D.t0 + view[1]) / 1000;
    var local0 = Math.floor((Math.ceil(fromS) + off) / align) * align, prevDay = "", bottom = c.top + c.h;
    for (var l = local0, n = 0; l - off <= toS && n < 400; l += step) {
      var utc = l - off;
      if (utc < fromS) { continue; }
      n++;
      var t = utc * 1000 - D.t0, x = r1(xOf(t)), d = new Date(l * 1000);
      el("line", { x1: x, x2: x, y1: r1(c.top), y2: r1(bottom + 4) }, g);
      var label, day = null;
      if (step >= 86400) { label = dayStr(d); } else {
        label = step < 60 ? hms(d) : p2(d.getUTCHours()) + ":" + p2(d.getUTCMinutes());
        var ds = dayStr(d);
        if (ds !== prevDay) { day = ds; prevDay = ds; }
      }
      el("text", { x: x, y: r1(bottom + 16) }, g).textContent = label;
      if (day) { el("text", { "class": "day", x: x, y: r1(bottom + 29) }, g).textContent = day; }
    }
  }

  function drawMarks() {
    svgs.forEach(function (svg) {
      Array.prototype.forEach.call(svg.querySelectorAll("rect.gap"), function (r) {
        var g = D.gaps.filter(function (x) { return String(x[2]) === r.getAttribute("data-i"); })[0];
        if (!g) { return; }
        var x0 = Math.max(L, Math.min(L + W, xOf(g[0]))), x1 = Math.max(L, Math.min(L + W, xOf(g[1])));
        r.setAttribute("x", r1(x0)); r.setAttribute("width", r1(Math.max(x1 - x0, x1 > L && x0 < L + W ? 2 : 0)));
      });
    });
    D.inc.forEach(function (m) {
      var g = document.getElementById("inc-" + m.i);
      if (!g) { return; }
      var px = xOf(m.t);
      if (px < L - 0.5 || px > L + W + 0.5) { g.style.display = "none"; return; }
      g.style.display = "";
      var left = Math.max(L, Math.min(L + W - m.w, px - m.w / 2));
      var rect = g.querySelector("rect.lb"), text = g.querySelector("text.lt"), lead = g.querySelector("line.lead"), mark = g.querySelector("circle.mark");
      rect.setAttribute("x", r1(left));
      rect.setAttribute("width", r1(m.w));
      text.setAttribute("x", r1(left + m.w / 2));
      lead.setAttribute("x1", r1(Math.max(left + 4, Math.min(left + m.w - 4, px))));
      lead.setAttribute("x2", r1(px));
      if (mark) { mark.setAttribute("cx", r1(px)); }
    });
  }

  var toolbar = document.getElementById("toolbar"), zoomOut = document.getElementById("zoomout"), viewText = document.getElementById("view");
  function redraw() {
    hideHover();
    for (var ci = 0; ci < svgs.length && ci < D.charts.length; ci++) { drawSeries(ci); drawTicks(ci); }
    drawMarks();
    var zoomed = view[0] > 0 || view[1] < SPAN;
    zoomOut.disabled = !zoomed;
    viewText.textContent = zoomed ? "Showing " + fullTime(view[0]) + " to " + fullTime(view[1]) : "";
  }
  function zoom(a, b) {
    var lo = Math.max(0, Math.min(a, b)), hi = Math.min(SPAN, Math.max(a, b));
    if (hi - lo < 2000) { var mid = (lo + hi) / 2; lo = Math.max(0, mid - 1000); hi = Math.min(SPAN, mid + 1000); }
    view = [lo, hi];
    redraw();
  }
  function reset() { if (view[0] > 0 || view[1] < SPAN) { view = [0, SPAN]; redraw(); } }

  // Hover: the nearest recorded moment, its values and top processes, with a cursor on every chart.
  var tip = document.getElementById("tip"), cursors = [], sels = [];
  svgs.forEach(function (svg, ci) {
    var c = D.charts[ci];
    cursors.push(el("line", { "class": "cursor", x1: 0, x2: 0, y1: c.top, y2: c.top + c.h, visibility: "hidden" }, svg));
    sels.push(el("rect", { "class": "sel", x: 0, y: c.top, width: 0, height: c.h, visibility: "hidden" }, svg));
  });
  function nearestMoment(t) {
    var lo = 0, hi = MT.length - 1;
    if (hi < 0) { return -1; }
    while (lo < hi) { var mid = (lo + hi) >> 1; if (MT[mid] < t) { lo = mid + 1; } else { hi = mid; } }
    if (lo > 0 && t - MT[lo - 1] < MT[lo] - t) { lo--; }
    return lo;
  }
  function proc(i) { var p = D.procs[i] || ["?", 0, null, null]; return p[0] + " (pid " + p[1] + ")" + (p[3] ? " · " + p[3] : ""); }
  function showTip(k, cx, cy) {
    while (tip.firstChild) { tip.removeChild(tip.firstChild); }
    var v = D.m.v[k];
    h("div", "tt", fullTime(MT[k]), tip);
    h("div", "tv", "CPU " + pct(v[0] / 10) + " · memory used " + gb(v[1] / 1000) + ", available " + gb(v[2] / 1000), tip);
    h("div", "tv", "swap used " + gb(v[3] / 1000) + (v[4] === null ? "" : " · load " + (v[4] / 100).toFixed(2)), tip);
    var p = D.m.p[k], r = D.m.r[k];
    if (p.length) { h("div", "th", "Top CPU", tip); }
    for (var i = 0; i + 1 < p.length; i += 2) { h("div", "tp", proc(p[i]) + " " + pct(p[i + 1] / 10) + " CPU", tip).title = (D.procs[p[i]] || [])[2] || ""; }
    if (r.length) { h("div", "th", "Top memory", tip); }
    for (var j = 0; j + 1 < r.length; j += 2) { h("div", "tp", proc(r[j]) + " " + bytes(r[j + 1] * 1e6) + " resident", tip); }
    var lat = D.m.l && D.m.l[k];
    if (lat && lat.length) {
      h("div", "th", "Latency (latest probe)", tip);
      for (var q = 0; q < lat.length; q++) {
        var lv = lat[q];
        h("div", "tp" + (typeof lv === "string" ? " tfail" : ""), D.latn[q] + " " + (lv === null ? "no probe yet" : typeof lv === "string" ? lv.replace("_", " ") : ms(lv)), tip);
      }
    }
    tip.hidden = false;
    var w = tip.offsetWidth, hh = tip.offsetHeight;
    var x = cx + 16 + w > window.innerWidth ? cx - 16 - w : cx + 16;
    var y = Math.min(cy + 12, window.innerHeight - hh - 4);
    tip.style.left = Math.max(4, x) + "px";
    tip.style.top = Math.max(4, y) + "px";
  }
  function hideHover() {
    tip.hidden = true;
    cursors.forEach(function (c) { c.setAttribute("visibility", "hidden"); });
  }
  function svgX(svg, e) {
    var r = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
    return (e.clientX - r.left) * (vb && vb.width ? vb.width / r.width : 1);
  }

  var drag = null;
  svgs.forEach(function (svg, ci) {
    svg.addEventListener("mousemove", function (e) {
      var x = svgX(svg, e);
      if (drag && drag.ci === ci) {
        var a = Math.max(L, Math.min(L + W, Math.min(drag.x, x))), b = Math.max(L, Math.min(L + W, Math.max(drag.x, x)));
        sels[ci].setAttribute("x", r1(a)); sels[ci].setAttribute("width", r1(b - a)); sels[ci].setAttribute("visibility", "visible");
      }
      if (x < L || x > L + W) { hideHover(); return; }
      var k = nearestMoment(tOf(x));
      if (k < 0) { return; }
      var mx = r1(xOf(MT[k]));
      cursors.forEach(function (c) { c.setAttribute("x1", mx); c.setAttribute("x2", mx); c.setAttribute("visibility", "visible"); });
      showTip(k, e.clientX, e.clientY);
    });
    svg.addEventListener("mouseleave", hideHover);
    svg.addEventListener("mousedown", function (e) {
      var x = svgX(svg, e);
      if (e.button !== 0 || x < L || x > L + W) { return; }
      drag = { ci: ci, x: x };
      e.preventDefault();
    });
    svg.addEventListener("dblclick", function (e) { e.preventDefault(); reset(); });
  });
  window.addEventListener("mouseup", function (e) {
    if (!drag) { return; }
    var svg = svgs[drag.ci], x = Math.max(L, Math.min(L + W, svgX(svg, e))), x0 = drag.x;
    sels[drag.ci].setAttribute("visibility", "hidden");
    drag = null;
    if (Math.abs(x - x0) >= 5) { zoom(tOf(x0), tOf(x)); }
  });
  zoomOut.addEventListener("click", reset);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") { reset(); } });
  // Following a table link to a label: bring its moment into view when zoomed away from it.
  window.addEventListener("hashchange", function () {
    var m = /^#inc-(\d+)$/.exec(location.hash);
    if (!m) { return; }
    var i = D.inc.filter(function (x) { return String(x.i) === m[1]; })[0];
    if (i && (i.t < view[0] || i.t > view[1])) { reset(); }
  });
  // Shrink each label box to its measured text (the page estimates widths generously for any font).
  D.inc.forEach(function (m) {
    var t = document.querySelector("#inc-" + m.i + " text.lt");
    var len = t && t.getComputedTextLength ? t.getComputedTextLength() : 0;
    if (len > 0 && len + 12 < m.w) { m.w = Math.ceil(len + 12); }
  });
  drawMarks();
  toolbar.hidden = false;
  document.documentElement.setAttribute("data-ready", "1");
  if (window.performance && performance.mark) { performance.mark("stabmon-ready"); }
})();
