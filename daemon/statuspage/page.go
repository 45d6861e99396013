package statuspage

// pageHTML is the status page. It must work without JavaScript and load
// nothing from elsewhere: the CSS is inline, the sparkline an inline SVG.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{{.Refresh}}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>r2sync: {{.Up}} of {{.Total}} mirrors ready</title>
<style>
body{font:14px/1.4 "DejaVu Sans",system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .2em}
p.sum{margin:0 0 1em;color:#555}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{padding:.45em .6em;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
th{background:#f0f0f0;font-weight:600;font-size:.9em}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.up{color:#17692b;font-weight:600}.down{color:#a11;font-weight:600}
.ok{color:#17692b}.bad{color:#a11}
.status{max-width:28em;overflow-wrap:anywhere}
.err{color:#a11;max-width:22em;overflow-wrap:anywhere;font-size:.9em}
.muted{color:#888;font-size:.85em}
svg rect{fill:#3a7bd5}svg rect.none{fill:#ddd}
footer{margin-top:1em;color:#888;font-size:.85em}
</style>
</head>
<body>
<h1>r2sync mirrors</h1>
<p class="sum">{{.Up}} of {{.Total}} ready · updated {{.Generated}} · refreshes every {{.Refresh}} s</p>
<table>
<thead><tr><th>Mirror</th><th>Source</th><th>XMPP</th><th>Session</th><th>Last status</th><th>Pending</th><th>Skipped</th><th>Last error</th><th>Statuses, last 24 h</th></tr></thead>
<tbody>
{{range .Rows}}<tr class="mirror" id="mirror-{{.Name}}">
<td class="name"><strong>{{.Name}}</strong><br>{{if .Ready}}<span class="ok">ready</span>{{else}}<span class="bad" title="{{.NotReady}}">not ready</span>{{end}}</td>
<td class="source">{{.Source}}</td>
<td class="xmpp">{{.XMPP}}</td>
<td class="session">{{if .Up}}<span class="up">up</span>{{else}}<span class="down">down</span>{{end}}<br><span class="muted" title="{{.SinceTitle}}">since {{.Since}}</span></td>
<td class="status">{{if .StatusAgo}}{{if .Status}}<span class="text">{{.Status}}</span><br>{{end}}<span class="muted" title="{{.StatusTitle}}">{{.StatusAgo}} · {{.Mirrored}} in all</span>{{else}}<span class="muted">none yet</span>{{end}}</td>
<td class="num pending">{{.Pending}}</td>
<td class="skipped">{{if .Skipped}}{{.Skipped}}{{else}}<span class="muted">none</span>{{end}}</td>
<td class="err">{{if .Error}}{{.Error}}<br><span class="muted">{{.ErrorAgo}}</span>{{else}}<span class="muted">none</span>{{end}}</td>
<td class="spark"><svg role="img" width="{{sparkW}}" height="{{sparkH}}" viewBox="0 0 {{sparkW}} {{sparkH}}" xmlns="http://www.w3.org/2000/svg"><title>{{.Day}} statuses in the last 24 hours</title>{{range .Bars}}{{if .H}}<rect x="{{.X}}" y="{{.Y}}" width="{{barW}}" height="{{.H}}"><title>{{.Title}}</title></rect>{{else}}<rect class="none" x="{{.X}}" y="{{sparkH}}" width="{{barW}}" height="1" transform="translate(0,-1)"><title>{{.Title}}</title></rect>{{end}}{{end}}</svg><br><span class="muted">{{.Day}} in 24 h</span></td>
</tr>
{{else}}<tr><td colspan="9" class="muted">no mirrors</td></tr>
{{end}}</tbody>
</table>
<footer>{{.Version}} · <a href="api/mirrors">JSON</a> · <a href="metrics">metrics</a></footer>
</body>
</html>
`
