// The page's HTML and CSS (served as they are; the scripts are the compiled ./client modules).
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>netkube — live map</title>
<link rel="stylesheet" href="/ui/style.css">
</head>
<body>
<header><h1>netkube</h1><span id="status" data-state="connecting">connecting…</span><span id="hint">click a pod, then a pod or Service, to trace the path</span></header>
<main>
<div id="map"><svg id="svg" xmlns="http://www.w3.org/2000/svg"></svg></div>
<aside>
<section id="trace"><h2>Trace</h2><div id="trace-body">no trace yet</div></section>
<section id="lb"><h2>LoadBalancer</h2><div id="lb-body"></div></section>
<section id="policies"><h2>NetworkPolicies</h2><div id="policies-body"></div></section>
<section id="routes"><h2>Overlay routes</h2><div id="routes-body"></div></section>
</aside>
</main>
<script type="module" src="/ui/app.js"></script>
</body>
</html>
`

export const PAGE_CSS = `
:root { --fg: #1d2433; --muted: #6b7385; --node: #eef2f8; --pod: #ffffff; --svc: #fff6e0; --path: #d6336c; --line: #8fa3bf; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.35 system-ui, sans-serif; color: var(--fg); background: #fafbfc; }
header { display: flex; gap: 16px; align-items: baseline; padding: 8px 16px; border-bottom: 1px solid #dde3ec; background: #fff; }
header h1 { font-size: 16px; margin: 0; }
#status[data-state="live"] { color: #2b8a3e; } #status[data-state="connecting"] { color: #e67700; }
#hint { color: var(--muted); }
main { display: flex; align-items: flex-start; }
#map { flex: 1; overflow: auto; padding: 8px; }
aside { width: 420px; max-height: calc(100vh - 40px); overflow: auto; padding: 8px 12px; border-left: 1px solid #dde3ec; background: #fff; }
aside h2 { font-size: 13px; margin: 10px 0 4px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
svg text { font: 11px system-ui, sans-serif; fill: var(--fg); }
svg .node rect { fill: var(--node); stroke: #b8c4d6; }
svg .node .title { font-weight: 600; font-size: 13px; }
svg .node.notready rect { stroke: #e03131; stroke-dasharray: 4 3; }
svg .pod { cursor: pointer; }
svg .pod rect { fill: var(--pod); stroke: #9aa9bf; }
svg .pod.Running.ready rect { stroke: #2b8a3e; }
svg .pod.Pending rect, svg .pod.Terminating rect { stroke: #e67700; stroke-dasharray: 3 2; }
svg .pod.Failed rect { stroke: #e03131; }
svg .pod.selected rect { stroke: var(--path); stroke-width: 3; }
svg .svc { cursor: pointer; }
svg .svc rect { fill: var(--svc); stroke: #d9a400; }
svg .svc.selected rect { stroke: var(--path); stroke-width: 3; }
svg .ep { stroke: var(--line); stroke-width: 1.2; fill: none; }
svg .ep.notready { stroke-dasharray: 4 3; }
svg .muted { fill: var(--muted); }
svg .trace-path { stroke: var(--path); stroke-width: 3; fill: none; stroke-linejoin: round; }
svg .hop circle { fill: var(--path); }
svg .hop text { fill: #fff; font-size: 9px; font-weight: 700; }
svg .hop.drop circle, svg .hop.reject circle { fill: #e03131; }
.hop-row { border-left: 3px solid var(--path); padding: 2px 6px; margin: 4px 0; }
.hop-row.drop, .hop-row.reject { border-color: #e03131; }
.hop-row .where { color: var(--muted); font-size: 11px; }
.hop-row pre { margin: 2px 0 0; padding: 3px 4px; background: #f3f5f8; white-space: pre-wrap; word-break: break-all; font-size: 11px; }
.outcome { font-weight: 600; }
.error { color: #e03131; }
table { border-collapse: collapse; width: 100%; } td { padding: 1px 4px; vertical-align: top; font-size: 12px; }
code { font-size: 11px; }
`
