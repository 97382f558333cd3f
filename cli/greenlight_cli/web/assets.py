"""The reviewer page itself: plain HTML, CSS and JavaScript, no build step, no outside resources.

The HTML holds the CSRF token and nothing else that varies: no credentials, no presigned URLs. The
script fetches the queue (thumbnails presigned for minutes at each fetch), builds the list with
textContent only (keys and labels are never parsed as HTML), and posts decisions with the token.
"""

from __future__ import annotations

from greenlight_cli.web.script import PAGE_JS

__all__ = ["PAGE_CSS", "PAGE_HTML", "PAGE_JS"]

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{csrf_token}">
<title>greenlight review queue</title>
<link rel="stylesheet" href="/review.css">
<script src="/review.js" defer></script>
</head>
<body>
<header>
  <h1>greenlight review queue</h1>
  <p id="context">Loading...</p>
  <button type="button" id="reload">Reload <kbd>r</kbd></button>
</header>
<p class="help" aria-label="keyboard shortcuts">
  <kbd>j</kbd> / <kbd>k</kbd> next / previous &middot; <kbd>a</kbd> approve (pass) &middot;
  <kbd>b</kbd> block &middot; <kbd>e</kbd> edit the reason (<kbd>Esc</kbd> to leave it) &middot;
  <kbd>r</kbd> reload the queue.
  Each decision is recorded as an override with your identity and the reason (default: "approved on the
  review page" or "blocked on the review page"); enforcement then retags, quarantines or restores the
  version and tells Green.
</p>
<p id="status" role="status" aria-live="polite"></p>
<main id="queue" aria-label="versions awaiting review"></main>
<noscript><p>This page needs JavaScript.</p></noscript>
</body>
</html>
"""

PAGE_CSS = """
:root { color-scheme: light; --line: #d0d4da; --ink: #1d232b; --muted: #5b6470; --pick: #2458c6; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 1rem 1.5rem 4rem; font: 15px/1.45 system-ui, sans-serif;
       color: var(--ink); background: #f6f7f9; }
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.3rem; margin: .4rem 0; }
#context { flex: 1; margin: 0; color: var(--muted); }
#context .warn { color: #a11; font-weight: 600; }
.help { color: var(--muted); font-size: .9rem; }
kbd { border: 1px solid var(--line); border-bottom-width: 2px; border-radius: 3px; padding: 0 .3em;
      font: .85em ui-monospace, monospace; background: #fff; color: var(--ink); }
#status { min-height: 1.5em; margin: .5rem 0; font-weight: 600; }
#status.error { color: #a11; }
#status.ok { color: #16632f; }
.empty { padding: 2rem; text-align: center; color: var(--muted); }
.item { display: flex; gap: 1.2rem; background: #fff; border: 1px solid var(--line); border-left: 6px solid #fff;
        border-radius: 4px; padding: 1rem; margin: 0 0 .8rem; }
.item.selected { border-left-color: var(--pick); box-shadow: 0 1px 4px rgba(0, 0, 0, .12); }
.thumb { flex: 0 0 220px; height: 220px; display: flex; align-items: center; justify-content: center;
         background: #eceef1; border-radius: 3px; overflow: hidden; }
.thumb img { max-width: 100%; max-height: 100%; object-fit: contain; image-rendering: auto; min-width: 96px; }
.nothumb { padding: 1rem; color: var(--muted); font-size: .9rem; text-align: center; }
.body { flex: 1; min-width: 0; }
.key { font-size: 1.05rem; margin: 0 0 .4rem; overflow-wrap: anywhere; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: 0 0 .6rem;
         font-size: .9rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
h3 { font-size: .9rem; margin: .6rem 0 .2rem; }
.reasons { margin: 0; padding-left: 1.2rem; }
.scenes { border-collapse: collapse; font-size: .9rem; margin-top: .3rem; }
.scenes th, .scenes td { border-bottom: 1px solid var(--line); padding: .15rem .8rem .15rem 0; text-align: left; }
.scenes td.rate { text-align: right; font-variant-numeric: tabular-nums; }
.s-block { color: #a11; font-weight: 600; }
.s-review { color: #8a5a00; font-weight: 600; }
.actions { display: flex; gap: .6rem; align-items: center; margin-top: .8rem; flex-wrap: wrap; }
.actions label { flex: 1; display: flex; gap: .4rem; align-items: center; min-width: 260px; }
.actions input { flex: 1; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 3px; font: inherit; }
button { font: inherit; padding: .35rem .9rem; border-radius: 3px; border: 1px solid var(--line); cursor: pointer;
         background: #fff; }
button.approve { background: #e7f5ec; border-color: #8fc7a1; }
button.block { background: #fbeaea; border-color: #e0a0a0; }
button:disabled { opacity: .5; cursor: wait; }
"""
