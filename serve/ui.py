"""``tweetstream ui``: one self-contained HTML page on top of the API app.

Why not Gradio (the seed project's UI): the only Gradio release pip can resolve with our pins
is 3.18.0 (2023), which does not import on Python 3.11 without ``pkg_resources`` and predates
our FastAPI/Starlette/pydantic majors; every newer release needs ``pillow<13`` (we pin 13.0.0).
So the UI is a page served by the same FastAPI app, with inline CSS and JavaScript only: no
CDN, no fonts from the network, it works offline. The page calls the API on the same origin:
``POST /explain`` (label, probability, the words that pushed it), ``GET /tweets/latest`` and
``GET /tweets/stats`` (the live panel, refreshed every ``ui_refresh_seconds``) and ``GET
/model`` (the champion's version).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from tweetstream.schemas import MAX_TEXT_CHARS
from tweetstream.settings import Settings

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tweetstream — disaster tweet classifier</title>
<style>
  :root { --bad: #c0392b; --good: #2e7d32; --ink: #1d2330; --mute: #667085; --line: #e4e7ec; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         color: var(--ink); background: #f5f6f8; }
  header { display: flex; align-items: baseline; gap: 1rem; padding: .9rem 1.5rem;
           background: #1d2330; color: #fff; }
  header h1 { margin: 0; font-size: 1.25rem; }
  header .sub { color: #c7cbd3; flex: 1; }
  .badge { padding: .15rem .6rem; border-radius: 999px; background: #39425a; font-size: .85rem; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1.2rem;
         padding: 1.2rem 1.5rem; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 10px;
            padding: 1rem 1.2rem; }
  h2 { margin: 0 0 .7rem; font-size: 1.05rem; }
  textarea, input { width: 100%; font: inherit; padding: .5rem .6rem; border: 1px solid #cfd4dc;
                    border-radius: 6px; }
  textarea { min-height: 6.5rem; resize: vertical; }
  .row { display: flex; gap: .6rem; margin-top: .6rem; align-items: center; }
  .row input { flex: 1; }
  button { font: inherit; padding: .5rem 1.1rem; border: 0; border-radius: 6px;
           background: #2f5bea; color: #fff; cursor: pointer; }
  button:disabled { background: #98a2b3; }
  #result { margin-top: 1rem; }
  #label { font-size: 1.6rem; font-weight: 700; }
  #label.disaster { color: var(--bad); }
  #label.not { color: var(--good); }
  .bar { height: 10px; background: #eef0f3; border-radius: 5px; overflow: hidden; margin: .3rem 0; }
  .bar > div { height: 100%; background: var(--bad); }
  .terms { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; margin-top: .8rem; }
  .terms h3 { margin: 0 0 .3rem; font-size: .9rem; color: var(--mute); font-weight: 600; }
  .terms ol { margin: 0; padding-left: 1.2rem; }
  .terms li { margin: .15rem 0; }
  .towards b { color: var(--bad); }
  .against b { color: var(--good); }
  .w { color: var(--mute); font-size: .85rem; margin-left: .3rem; }
  .stats { display: flex; gap: 1.5rem; margin-bottom: .8rem; }
  .stat b { display: block; font-size: 1.5rem; }
  .stat span { color: var(--mute); font-size: .85rem; }
  table { width: 100%; border-collapse: collapse; font-size: .9rem; }
  td, th { text-align: left; padding: .35rem .4rem; border-top: 1px solid var(--line);
           vertical-align: top; }
  th { color: var(--mute); font-weight: 600; border-top: 0; }
  td.t { word-break: break-word; }
  td.when { white-space: nowrap; }
  .pill { padding: .05rem .45rem; border-radius: 4px; color: #fff; font-size: .8rem;
          white-space: nowrap; }
  .pill.d { background: var(--bad); } .pill.n { background: var(--good); }
  .muted { color: var(--mute); font-size: .85rem; }
  .error { color: var(--bad); }
  @media (max-width: 900px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1>tweetstream</h1><span class="sub">Is this tweet about a real disaster?</span>
  <span class="badge" id="model-version">model: loading…</span>
</header>
<main>
  <section>
    <h2>Classify a tweet</h2>
    <label for="text" class="muted">Tweet text</label>
    <textarea id="text" maxlength="__MAX_TEXT__"
      placeholder="Type or paste a tweet, e.g. Forest fire near La Ronge Sask. Canada"></textarea>
    <div class="row">
      <input id="keyword" maxlength="200" placeholder="keyword (optional), e.g. wildfire">
      <button id="classify" type="button">Classify</button>
    </div>
    <div id="result" hidden>
      <div id="label"></div>
      <div class="muted">P(real disaster) = <span id="probability"></span>
        · <span id="result-model"></span></div>
      <div class="bar"><div id="probability-bar" style="width:0"></div></div>
      <div class="terms">
        <div class="towards"><h3>Pushed towards “disaster”</h3><ol id="towards"></ol></div>
        <div class="against"><h3>Pushed against</h3><ol id="against"></ol></div>
      </div>
    </div>
    <p id="error" class="error" hidden></p>
  </section>
  <section>
    <h2>Live: the stream's latest classifications</h2>
    <div class="stats">
      <div class="stat"><b id="share">–</b><span>disaster share, last hour</span></div>
      <div class="stat"><b id="window-total">–</b><span>classified, last hour</span></div>
      <div class="stat"><b id="all-total">–</b><span>classified, all time</span></div>
    </div>
    <table>
      <thead><tr><th>label</th><th>P</th><th>tweet</th><th>model</th><th>when</th></tr></thead>
      <tbody id="latest"></tbody>
    </table>
    <p class="muted">Refreshes every __REFRESH_S__ s · <span id="updated">not yet updated</span>
      <span id="live-error" class="error"></span></p>
  </section>
</main>
<script>
"use strict";
const REFRESH_MS = __REFRESH_MS__;
const $ = (id) => document.getElementById(id);

async function call(path, options) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    let detail = body && body.detail !== undefined ? body.detail : response.statusText;
    if (Array.isArray(detail)) {
      detail = detail.map((d) => d.msg || d.reason || JSON.stringify(d)).join("; ");
    }
    throw new Error(String(detail));
  }
  return body;
}

function fillTerms(list, terms) {
  list.replaceChildren();
  if (!terms.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "none";
    list.appendChild(li);
  }
  for (const t of terms) {
    const li = document.createElement("li");
    const b = document.createElement("b");
    b.textContent = t.term;
    const w = document.createElement("span");
    w.className = "w";
    w.textContent = (t.contribution > 0 ? "+" : "") + t.contribution.toFixed(3);
    li.append(b, w);
    list.appendChild(li);
  }
}

async function classify() {
  const text = $("text").value;
  const keyword = $("keyword").value.trim();
  $("error").hidden = true;
  if (!text.trim()) {
    $("error").textContent = "Type a tweet first.";
    $("error").hidden = false;
    return;
  }
  $("classify").disabled = true;
  try {
    const r = await call("/explain", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({text: text, keyword: keyword || null, k: 5}),
    });
    const label = $("label");
    label.textContent = r.label === 1 ? "Real disaster" : "Not a disaster";
    label.className = r.label === 1 ? "disaster" : "not";
    label.dataset.label = String(r.label);
    $("probability").textContent = r.probability.toFixed(3);
    $("probability-bar").style.width = (100 * r.probability).toFixed(1) + "%";
    $("result-model").textContent = r.model_name + " v" + r.model_version;
    fillTerms($("towards"), r.towards);
    fillTerms($("against"), r.against);
    $("result").hidden = false;
  } catch (e) {
    $("error").textContent = "Could not classify: " + e.message;
    $("error").hidden = false;
  } finally {
    $("classify").disabled = false;
  }
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  if (text instanceof Node) td.appendChild(text); else td.textContent = text;
  row.appendChild(td);
}

async function refresh() {
  try {
    const [model, stats, latest] = await Promise.all([
      call("/model"), call("/tweets/stats?minutes=60"), call("/tweets/latest?limit=12"),
    ]);
    $("model-version").textContent = model.model_version
      ? "champion: " + model.model_name + " v" + model.model_version
      : "champion: not loaded yet";
    $("share").textContent = stats.disaster_share === null
      ? "–" : (100 * stats.disaster_share).toFixed(1) + "%";
    $("window-total").textContent = stats.total.toLocaleString();
    $("all-total").textContent = stats.all_time_total.toLocaleString();
    const body = $("latest");
    body.replaceChildren();
    for (const t of latest.tweets) {
      const tr = document.createElement("tr");
      const pill = document.createElement("span");
      pill.className = "pill " + (t.label === 1 ? "d" : "n");
      pill.textContent = t.label_name;
      cell(tr, pill);
      cell(tr, t.probability.toFixed(2));
      cell(tr, t.text, "t");
      cell(tr, "v" + t.model_version);
      cell(tr, new Date(t.classified_at).toLocaleTimeString(), "when");
      body.appendChild(tr);
    }
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    $("live-error").textContent = "";
  } catch (e) {
    $("live-error").textContent = " · " + e.message;
  }
}

$("classify").addEventListener("click", classify);
$("text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) classify();
});
refresh();
setInterval(refresh, REFRESH_MS);
</script>
</body>
</html>
"""


def render_page(settings: Settings) -> str:
    """The page with this process's settings filled in."""
    return (
        PAGE.replace("__MAX_TEXT__", str(MAX_TEXT_CHARS))
        .replace("__REFRESH_MS__", str(round(settings.ui_refresh_seconds * 1000)))
        .replace("__REFRESH_S__", f"{settings.ui_refresh_seconds:g}")
    )


def add_page(app: FastAPI, settings: Settings) -> None:
    """Serve the page at ``/`` (not part of the OpenAPI spec)."""
    page = render_page(settings)

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)


def create_ui_app(settings: Settings) -> FastAPI:
    """The UI: the API app (same routes, same hot-reloaded model) plus the page at ``/``."""
    from serve.api import create_app

    return create_app(settings, ui=True)
