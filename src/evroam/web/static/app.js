// The back office's behaviour in the browser: the CSRF token on htmx requests, live updates
// from the server's events (/live), charts (uPlot) and the map. No build step: plain ES2017.
(function () {
  "use strict";
  var body = document.body;
  var prefix = body.dataset.prefix || "";
  var csrf = body.dataset.csrf || "";

  // ------------------------------------------------------------------ htmx: every request carries the CSRF token
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) { e.detail.headers["X-CSRF-Token"] = csrf; }
  });
  // a 4xx/5xx answer of a command still shows its message (htmx does not swap errors by default)
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr.status >= 400 && e.detail.xhr.status !== 401) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });

  var STATUS_CLASS = {AVAILABLE: "ok", CHARGING: "busy", RESERVED: "busy", BLOCKED: "warn", INOPERATIVE: "warn",
                      OUTOFORDER: "bad", UNKNOWN: "off", REMOVED: "off", PLANNED: "off"};
  function statusClass(s) { return STATUS_CLASS[s] || "off"; }
  function setBadge(el, text, cls) {
    el.textContent = text;
    el.classList.remove("ok", "busy", "warn", "bad", "off");
    el.classList.add(cls);
  }

  // ------------------------------------------------------------------ charts
  var charts = {};
  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function chartWidth(el) { return Math.max(320, Math.min(1100, el.clientWidth || 800)); }
  // a time axis that still reads when there is one point (the ten minutes before it)
  function timeRange(u, min, max) { return min === max ? [min - 600, max + 60] : [min, max]; }

  function sessionChart(el) {
    var d = readJSON(el.dataset.source) || {t: [], kw: [], kwh: []};
    var opts = {
      width: chartWidth(el), height: 300, title: "Power and energy",
      scales: {x: {time: true, range: timeRange}, kw: {auto: true, range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; }},
               kwh: {auto: true, range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; }}},
      series: [{}, {label: "Power (kW)", scale: "kw", stroke: "#1f77b4", width: 2, spanGaps: true},
               {label: "Energy (kWh)", scale: "kwh", stroke: "#2ca02c", width: 2, spanGaps: true}],
      axes: [{}, {scale: "kw", label: "kW"}, {scale: "kwh", label: "kWh", side: 1, grid: {show: false}}]
    };
    var data = [d.t.slice(), d.kw.slice(), d.kwh.slice()];
    var plot = new uPlot(opts, data, el);
    return {plot: plot, data: data, meterStart: el.dataset.meterStart === "" ? null : parseFloat(el.dataset.meterStart)};
  }

  function siteChart(el) {
    var points = readJSON(el.dataset.source) || [];
    var data = [[], [], [], []];
    points.forEach(function (p) { pushSitePoint(data, p); });
    var opts = {
      width: chartWidth(el), height: 300, title: "Load against limit",
      scales: {x: {time: true, range: timeRange}, y: {auto: true, range: function (u, min, max) { return [0, Math.max(10, max * 1.1)]; }}},
      series: [{}, {label: "Load (A)", stroke: "#1f77b4", width: 2, spanGaps: true},
               {label: "Planned (A)", stroke: "#9467bd", width: 1, dash: [4, 4], spanGaps: true},
               {label: "Limit (A)", stroke: "#d62728", width: 2, spanGaps: true}],
      axes: [{}, {label: "A per phase"}]
    };
    return {plot: new uPlot(opts, data, el), data: data};
  }
  function pushSitePoint(data, p) {
    data[0].push(p.t); data[1].push(p.load); data[2].push(p.planned); data[3].push(p.limit);
  }

  function energyChart(el) {
    var d = readJSON(el.dataset.source) || {t: [], kwh: [], sessions: []};
    var xs = d.t.map(function (day) { return Date.parse(day + "T12:00:00Z") / 1000; });
    var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({size: [0.7, 40]}) : null;
    var opts = {
      width: chartWidth(el), height: 300, title: "Energy per day",
      scales: {x: {time: true, range: timeRange}, kwh: {auto: true, range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; }},
               n: {auto: true, range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; }}},
      series: [{}, {label: "Energy (kWh)", scale: "kwh", stroke: "#1f77b4", fill: "rgba(31,119,180,0.5)", paths: bars, points: {show: false}},
               {label: "Sessions", scale: "n", stroke: "#ff7f0e", width: 2}],
      axes: [{}, {scale: "kwh", label: "kWh"}, {scale: "n", label: "sessions", side: 1, grid: {show: false}}]
    };
    return {plot: new uPlot(opts, [xs, d.kwh, d.sessions], el)};
  }

  function setupCharts() {
    if (typeof uPlot === "undefined") { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var kind = el.dataset.chart;
      var made = kind === "session" ? sessionChart(el) : kind === "site" ? siteChart(el) : energyChart(el);
      charts[el.id] = made;
      el.dataset.drawn = "true";
    });
    var resizing = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(function () {
        Object.keys(charts).forEach(function (id) {
          var el = document.getElementById(id);
          charts[id].plot.setSize({width: chartWidth(el), height: 300});
        });
      }, 200);
    });
  }

  // ------------------------------------------------------------------ the map
  var mapPoints = {};
  function setupMap() {
    var svg = document.getElementById("map-svg");
    var points = readJSON("map-data");
    if (!svg || !points) { return; }
    var ns = "http://www.w3.org/2000/svg";
    points.forEach(function (p) {
      var statuses = {};
      p[4].forEach(function (e) { statuses[e[0]] = e[1]; });
      var c = document.createElementNS(ns, "circle");
      c.setAttribute("cx", p[2]); c.setAttribute("cy", p[3]); c.setAttribute("r", 6);
      var title = document.createElementNS(ns, "title");
      c.appendChild(title);
      svg.appendChild(c);
      mapPoints[p[0]] = {circle: c, title: title, name: p[1], statuses: statuses};
      paintLocation(p[0]);
    });
  }
  function locationStatus(statuses) {
    var values = Object.keys(statuses).map(function (k) { return statuses[k]; });
    if (!values.length) { return "UNKNOWN"; }
    if (values.indexOf("OUTOFORDER") >= 0) { return "OUTOFORDER"; }
    if (values.indexOf("AVAILABLE") >= 0) { return "AVAILABLE"; }
    if (values.indexOf("CHARGING") >= 0) { return "CHARGING"; }
    return values[0];
  }
  function paintLocation(id) {
    var m = mapPoints[id];
    if (!m) { return; }
    var status = locationStatus(m.statuses);
    m.circle.setAttribute("class", "loc " + statusClass(status));
    m.circle.setAttribute("data-status", status);
    m.title.textContent = m.name + ": " + Object.keys(m.statuses).map(function (k) { return k + " " + m.statuses[k]; }).join(", ");
    document.querySelectorAll('[data-location-status="' + CSS.escape(id) + '"]').forEach(function (el) {
      setBadge(el, status, statusClass(status));
    });
  }

  // ------------------------------------------------------------------ refreshing parts of a page
  var pending = {};
  function refresh(el) {
    var id = el.id;
    if (pending[id]) { return; }
    pending[id] = setTimeout(function () {
      pending[id] = null;
      fetch(el.dataset.refresh, {headers: {"HX-Request": "true", "HX-Target": id}, credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { el.innerHTML = html; if (window.htmx) { htmx.process(el); } } })
        .catch(function () {});
    }, 700);
  }
  function refreshOn(kind) {
    document.querySelectorAll("[data-refresh-on]").forEach(function (el) {
      if (el.dataset.refreshOn.split(",").indexOf(kind) >= 0) { refresh(el); }
    });
  }
  var siteTimer = null;
  function refreshSite() {
    var el = document.querySelector('[data-chart="site"]');
    if (!el || siteTimer) { return; }
    siteTimer = setTimeout(function () {
      siteTimer = null;
      fetch(el.dataset.loadUrl, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (!j) { return; }
          var c = charts[el.id];
          pushSitePoint(c.data, j.point);
          c.plot.setData(c.data);
          var holder = document.getElementById("site-load");
          if (holder) { holder.innerHTML = j.html; }
        }).catch(function () {});
    }, 1000);
  }

  // ------------------------------------------------------------------ live events
  function onEvse(d) {
    document.querySelectorAll('[data-evse="' + CSS.escape(d.location_id + "/" + d.evse_uid) + '"]').forEach(function (el) {
      setBadge(el, d.status, d["class"]);
    });
    var m = mapPoints[d.location_id];
    if (m) { m.statuses[d.evse_uid] = d.status; paintLocation(d.location_id); }
  }
  function onCharger(d) {
    document.querySelectorAll('[data-charger-online="' + CSS.escape(d.charger_id) + '"]').forEach(function (el) {
      setBadge(el, d.online ? "online" : "offline", d.online ? "ok" : "off");
    });
  }
  function onMeter(d) {
    var el = document.querySelector('[data-chart="session"]');
    if (!el || !charts[el.id]) { return; }
    var c = charts[el.id];
    var t = Date.parse(d.at) / 1000;
    var kw = d.power_w === null || d.power_w === undefined ? null : Math.round(d.power_w) / 1000;
    var kwh = null;
    if (d.energy_wh !== null && d.energy_wh !== undefined) {
      var base = c.meterStart !== null ? c.meterStart : 0;
      kwh = Math.round(d.energy_wh - base) / 1000;
    }
    var xs = c.data[0];
    var i = xs.length;
    while (i > 0 && xs[i - 1] > t) { i--; }
    if (i > 0 && xs[i - 1] === t) {
      if (kw !== null) { c.data[1][i - 1] = kw; }
      if (kwh !== null) { c.data[2][i - 1] = kwh; }
    } else {
      xs.splice(i, 0, t); c.data[1].splice(i, 0, kw); c.data[2].splice(i, 0, kwh);
    }
    c.plot.setData(c.data);
    document.querySelectorAll('[data-chart-points="' + el.id + '"]').forEach(function (n) { n.textContent = String(xs.length); });
  }

  function setupLive() {
    var kinds = body.dataset.live;
    if (!kinds || typeof EventSource === "undefined") { return; }
    var params = new URLSearchParams({kinds: kinds});
    if (body.dataset.liveSession) { params.set("session", body.dataset.liveSession); }
    if (body.dataset.liveChargers) { params.set("chargers", body.dataset.liveChargers); }
    var state = document.getElementById("live-state");
    var source = new EventSource(prefix + "/live?" + params.toString());
    function on(kind, handler) {
      source.addEventListener(kind, function (e) {
        var d = JSON.parse(e.data);
        if (handler) { handler(d); }
        refreshOn(kind);
        if (kind === "load" || kind === "meter" || kind === "session" || kind === "site") { refreshSite(); }
      });
    }
    on("evse", onEvse);
    on("charger", onCharger);
    on("session", null);
    on("meter", onMeter);
    on("load", null);
    on("site", null);
    source.addEventListener("overflow", function () { window.location.reload(); });
    source.addEventListener("open", function () { if (state) { state.textContent = "live"; state.className = "live-state on"; } });
    source.addEventListener("error", function () { if (state) { state.textContent = "reconnecting…"; state.className = "live-state"; } });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  setupCharts();
  setupMap();
  setupLive();
})();
