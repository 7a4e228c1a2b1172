(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("rows-data").textContent);
  var body = document.getElementById("rows-body");
  if (!body) { return; }
  var cols = data.columns, rows = data.rows, PAGE = 500, shown = PAGE, matches = [];
  var W = data.words, LABEL = W.outcomes;  // the page's words, in its language
  function say(template, n) { return template.replace("{n}", n.toLocaleString()); }
  var OUT = cols.indexOf("outcome"), CODE = cols.indexOf("error_code");
  var at = {};
  cols.forEach(function (c, j) { at[c] = j; });
  // The cells: row, group (its id; its project under it), outcome, error (code, message, and the group's own
  // error and failed-object list), details (every other value, by name; left out on paper).
  var ID = cols[1];  // the target's id: group_id, or task_id in a task run
  var MAIN = {row: 1, project_id: 1, outcome: 1, error_code: 1, error_msg: 1, group_error_code: 1,
    group_error_msg: 1, group_fail_num: 1, group_failed_object_list: 1};
  MAIN[ID] = 1;
  var MONO = {request_id: 1, finished_at: 1, started_at: 1};
  var COLOURS = %COLOURS%;
  var q = document.getElementById("f-q"), fo = document.getElementById("f-outcome");
  var fc = document.getElementById("f-code"), count = document.getElementById("rows-count");
  var more = document.getElementById("rows-more"), head = document.getElementById("rows-head");
  var text = rows.map(function (r) { return r.join("\u0001").toLowerCase(); });
  var tr = document.createElement("tr");
  [["row", "c-row"], ["group", "c-group"], ["outcome", "c-out"], ["error", "c-error"], ["details", "c-details np"]]
    .forEach(function (h) { var th = document.createElement("th"); th.textContent = W.head[h[0]];
      th.className = h[1]; tr.appendChild(th); });
  head.appendChild(tr);
  function val(r, c) { var v = at[c] === undefined ? null : r[at[c]]; return v == null ? "" : String(v); }
  function el(tag, cls, t) { var e = document.createElement(tag); if (cls) { e.className = cls; }
    if (t !== undefined) { e.textContent = t; } return e; }
  function num(t) { return /^\d+$/.test(t) ? Number(t).toLocaleString("en") : t; }
  function cell(r) {
    var tr = document.createElement("tr"), td, t;
    tr.appendChild(el("td", "num-cell c-row", val(r, "row")));
    var gc = val(r, "group_error_code"), gm = val(r, "group_error_msg");
    var fn = val(r, "group_fail_num"), fl = val(r, "group_failed_object_list");
    td = el("td", "c-group"); td.appendChild(el("div", "id mono", val(r, ID)));
    if (gc || (fn && fn !== "0")) {  // the group's own story, in brief: its error code and failed objects
      var brief = el("div", "sub story");
      if (gc) { brief.appendChild(el("span", "code-id mono", gc)); }
      if (fn) { brief.appendChild(el("span", "", (gc ? " · " : "") + num(fn) + " " + W.failed_objects)); }
      td.appendChild(brief);
    }
    t = val(r, "project_id"); if (t) { td.appendChild(el("div", "sub id mono np", t)); }
    tr.appendChild(td);
    td = el("td", "c-out"); t = val(r, "outcome"); var s = el("span", "tag", LABEL[t] || t);
    s.style.background = COLOURS[t] || "#7b8794"; td.appendChild(s); tr.appendChild(td);
    td = el("td", "c-error"); var m = el("div", "msg clamp");
    t = val(r, "error_code"); if (t) { m.appendChild(el("span", "code-id mono", t)); m.appendChild(document.createTextNode(" ")); }
    m.appendChild(el("span", "", val(r, "error_msg"))); td.appendChild(m);
    if (fl || gm) {  // the rest of it: the list OMS wrote of the failed objects, and the group's error message
      var story = el("div", "story clamp");
      if (fl) { story.appendChild(el("span", "k", W.failed_list + " "));
        story.appendChild(el("span", "path mono", fl)); story.appendChild(document.createTextNode(gm ? " · " : "")); }
      if (gm) { story.appendChild(el("span", "k", W.group_error + " "));
        story.appendChild(el("span", "", gm)); }
      td.appendChild(story);
    }
    tr.appendChild(td);
    td = el("td", "c-details np");
    cols.forEach(function (c, j) {
      var v = r[j]; if (MAIN[c] || v == null || v === "") { return; }
      var line = el("div", "kv"); line.appendChild(el("span", "k", (W.columns[c] || c.replace(/_/g, " ")) + " "));
      line.appendChild(el("span", MONO[c] ? "v id mono" : "v", typeof v === "number" ? v.toLocaleString("en") : String(v)));
      td.appendChild(line);
    });
    tr.appendChild(td);
    return tr;
  }
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
    matches.slice(0, shown).forEach(function (i) { frag.appendChild(cell(rows[i])); });
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
