(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("rows-data").textContent);
  var body = document.getElementById("rows-body");
  if (!body) { return; }
  var cols = data.columns, rows = data.rows, PAGE = 500, shown = PAGE, matches = [];
  var W = data.words, LABEL = W.outcomes;  // the page's words, in its language
  function say(template, n) { return template.replace("{n}", n.toLocaleString()); }
  var OUT = cols.indexOf("outcome"), CODE = cols.indexOf("error_code");
  var NUM = {row: 1, http_status: 1, attempts: 1, latency_ms: 1};
  var MONO = {group_id: 1, project_id: 1, error_code: 1, request_id: 1, finished_at: 1};
  var WIDE = {project_id: 1, request_id: 1, finished_at: 1};  // left out on paper
  var COLOURS = %COLOURS%;
  var q = document.getElementById("f-q"), fo = document.getElementById("f-outcome");
  var fc = document.getElementById("f-code"), count = document.getElementById("rows-count");
  var more = document.getElementById("rows-more"), head = document.getElementById("rows-head");
  var text = rows.map(function (r) { return r.join("\u0001").toLowerCase(); });
  var tr = document.createElement("tr");
  cols.forEach(function (c) { var th = document.createElement("th"); th.textContent = W.columns[c];
    if (WIDE[c]) { th.className = "np"; } tr.appendChild(th); });
  head.appendChild(tr);
  function options(select, index, labels) {
    var seen = {};
    rows.forEach(function (r) { var k = r[index] == null ? "" : String(r[index]); seen[k] = (seen[k] || 0) + 1; });
    Object.keys(seen).sort().forEach(function (k) {
      var o = document.createElement("option"); o.value = k; o.textContent = (labels[k] || k || W.none) +
        "  (" + seen[k] + ")";
      select.appendChild(o); });
  }
  function choose(select, value) {
    value = value || "";
    if (value && !Array.prototype.some.call(select.options, function (o) { return o.value === value; })) {
      var o = document.createElement("option"); o.value = value; o.textContent = value + "  (0)"; select.appendChild(o);
    }
    select.value = value;
  }
  function render() {
    var frag = document.createDocumentFragment();
    matches.slice(0, shown).forEach(function (i) {
      var tr = document.createElement("tr");
      rows[i].forEach(function (v, j) {
        var td = document.createElement("td"), c = cols[j], t = v == null ? "" : String(v);
        if (j === OUT) { var s = document.createElement("span"); s.className = "tag"; s.textContent = LABEL[t] || t;
          s.style.background = COLOURS[t] || "#7b8794"; td.appendChild(s); }
        else { td.textContent = t; }
        if (NUM[c]) { td.className = "num-cell"; } else if (MONO[c]) { td.className = "mono"; }
        else if (c === "error_msg") { td.className = "msg"; }
        if (WIDE[c]) { td.className += " np"; }
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    body.textContent = "";
    body.appendChild(frag);
    var all = data.total > rows.length ? say(W.kept, rows.length) : "";
    count.textContent = say(W.matching, matches.length) + all + (matches.length > shown ? say(W.first, shown) : "");
    more.hidden = matches.length <= shown;
    body.setAttribute("data-shown", String(Math.min(shown, matches.length)));
  }
  function apply(keepHash) {
    var t = q.value.trim().toLowerCase(), o = fo.value, c = fc.value;
    matches = [];
    for (var i = 0; i < rows.length; i++) {
      if ((!o || rows[i][OUT] === o) && (!c || rows[i][CODE] === c) && (!t || text[i].indexOf(t) >= 0)) {
        matches.push(i);
      }
    }
    shown = PAGE;
    render();
    if (!keepHash) {
      var p = new URLSearchParams();
      if (q.value) { p.set("q", q.value); } if (o) { p.set("outcome", o); } if (c) { p.set("code", c); }
      try { history.replaceState(null, "", p.toString() ? "#" + p.toString() : location.pathname); } catch (e) {}
    }
  }
  function fromHash(scroll) {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    q.value = p.get("q") || ""; choose(fo, p.get("outcome")); choose(fc, p.get("code"));
    apply(true);
    if (scroll && (p.get("q") || p.get("outcome") || p.get("code"))) {
      document.getElementById("rows").scrollIntoView();
    }
  }
  options(fo, OUT, LABEL); options(fc, CODE, {});
  q.addEventListener("input", function () { apply(false); });
  fo.addEventListener("change", function () { apply(false); });
  fc.addEventListener("change", function () { apply(false); });
  more.addEventListener("click", function () { shown += PAGE * 4; render(); });
  window.addEventListener("hashchange", function () { fromHash(true); });
  fromHash(false);
  document.body.setAttribute("data-ready", "1");
})();
