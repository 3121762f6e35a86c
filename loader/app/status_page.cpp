#include "loader/app/status_page.h"

namespace sluice::app {

std::string_view status_page() {
  return R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sluice</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
  table { border-collapse: collapse; margin-bottom: 1.5em; }
  th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }
  th:first-child, td:first-child, td.text { text-align: left; }
  .bad { color: #b00; font-weight: bold; }
  #problem { color: #b00; }
</style>
</head>
<body>
<h1>sluice</h1>
<p>Status at <span id="at">(loading)</span> <span id="problem"></span></p>
<h2>Feeds</h2>
<table id="feeds"><thead><tr><th>feed</th><th>loading</th><th>loaded</th><th>not loaded completely</th>
<th>duplicate</th><th>refused</th><th>rows (1 h)</th><th>rejects (1 h)</th><th>oldest loading</th></tr></thead>
<tbody></tbody></table>
<h2>Sources</h2>
<table id="sources"><thead><tr><th>source</th><th>state</th><th>lag (bytes)</th><th>lag (s)</th>
<th>last commit</th><th>last error</th></tr></thead><tbody></tbody></table>
<h2>Jobs</h2>
<table id="jobs"><thead><tr><th>job</th><th>last run</th><th>took (s)</th><th>last error</th></tr></thead>
<tbody></tbody></table>
<h2>Daemons</h2>
<table id="daemons"><thead><tr><th>daemon</th><th>alive</th><th>queued</th><th>last seen</th><th>loading</th></tr></thead>
<tbody></tbody></table>
<script>
"use strict";
function show(v) { return v === null || v === undefined ? "-" : String(v); }
// One row of cells, each written as text; `key` names the row, each cell's
// class its column (for scripts and tests reading the page).
function fill(table, rows, key, columns) {
  const body = document.querySelector("#" + table + " tbody");
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    tr.dataset[key] = row[key];
    for (const [name, value, bad] of columns(row)) {
      const td = document.createElement("td");
      td.className = name + (bad ? " bad" : "");
      td.textContent = show(value);
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}
async function refresh() {
  try {
    const answer = await fetch("/status.json", { cache: "no-store" });
    const s = await answer.json();
    document.getElementById("at").textContent = show(s.at);
    document.getElementById("problem").textContent = "";
    fill("feeds", s.feeds || [], "feed", f => [
      ["feed text", f.feed], ["loading", f.files.loading], ["loaded", f.files.loaded],
      ["incomplete", f.files.not_loaded_completely, f.files.not_loaded_completely > 0],
      ["duplicate", f.files.duplicate], ["refused", f.files.refused, f.files.refused > 0],
      ["rows", f.rows_last_hour], ["rejects", f.rejects_last_hour],
      ["oldest text", f.oldest_loading ? f.oldest_loading.path + " since " + f.oldest_loading.since : null]]);
    fill("sources", s.sources || [], "source", r => [
      ["source text", r.source], ["state text", r.state, r.state === "stopped"], ["lag-bytes", r.lag_bytes],
      ["lag-seconds", r.lag_seconds === null ? null : Number(r.lag_seconds).toFixed(3)],
      ["last-commit text", r.last_commit_at], ["error text", r.last_error, r.last_error !== null]]);
    fill("jobs", s.jobs || [], "job", j => [
      ["job text", j.job], ["last-run text", j.last_run_at],
      ["took", j.last_seconds === null ? null : Number(j.last_seconds).toFixed(3)],
      ["error text", j.last_error, j.last_error !== null]]);
    fill("daemons", s.daemons || [], "daemon", d => [
      ["daemon text", d.daemon], ["alive text", d.alive ? "yes" : "no", !d.alive], ["queued", d.queued],
      ["seen text", d.seen_at],
      ["loading text", (d.loading || []).map(f => f.path + " " + show(f.percent) + "% " + show(f.rows_per_second) +
                                                 " rows/s").join("; ") || null]]);
  } catch (e) {
    document.getElementById("problem").textContent = "(the daemon did not answer: " + e + ")";
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)html";
}

}  // namespace sluice::app
