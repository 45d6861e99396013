package statuspage

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/r2sync/r2sync/daemon/health"
)

// view is what the template renders.
type view struct {
	Refresh   int // seconds
	Generated string
	Version   string
	Up, Total int
	Rows      []row
}

type row struct {
	Name, Source, XMPP string
	Up                 bool
	Since, SinceTitle  string
	Status, StatusAgo  string
	StatusTitle        string
	Mirrored           int64
	Pending            int
	Skipped            string // "visibility 2, reply 1", or ""
	Error, ErrorAgo    string
	Ready              bool
	NotReady           string
	Bars               []bar
	Day                int // deliveries over the last 24 hours
}

// bar is one hour of the sparkline, in SVG user units.
type bar struct {
	X, Y, H int
	Title   string
}

// Sparkline geometry: 24 bars of barW with a gap, barsH high.
const (
	barW  = 5
	barG  = 1
	barsH = 24
)

func newView(rows []health.MirrorStatus, opts Options) view {
	now := opts.Now()
	v := view{
		Refresh:   max(int(opts.Refresh/time.Second), 1),
		Generated: now.UTC().Format("2006-01-02 15:04:05 UTC"),
		Version:   opts.Version,
		Total:     len(rows),
	}
	for _, r := range rows {
		if r.Ready == "" {
			v.Up++
		}
		v.Rows = append(v.Rows, newRow(r, now))
	}
	return v
}

func newRow(r health.MirrorStatus, now time.Time) row {
	w := row{
		Name:       r.Name,
		Source:     strings.TrimSpace(r.Source + " " + r.SourceAccount),
		XMPP:       r.XMPPAccount,
		Up:         r.SessionUp,
		Since:      health.Ago(now.Sub(r.SessionSince)),
		SinceTitle: stamp(r.SessionSince),
		Status:     r.LastStatus,
		Mirrored:   r.Mirrored,
		Pending:    r.Pending,
		Error:      r.LastError,
		Ready:      r.Ready == "",
		NotReady:   r.Ready,
	}
	if !r.LastStatusAt.IsZero() {
		w.StatusAgo, w.StatusTitle = health.Ago(now.Sub(r.LastStatusAt)), stamp(r.LastStatusAt)
	}
	if !r.LastErrorAt.IsZero() {
		w.ErrorAgo = health.Ago(now.Sub(r.LastErrorAt))
	}
	reasons := make([]string, 0, len(r.Skipped))
	for reason := range r.Skipped {
		reasons = append(reasons, reason)
	}
	slices.Sort(reasons)
	for i, reason := range reasons {
		reasons[i] = fmt.Sprintf("%s %d", reason, r.Skipped[reason])
	}
	w.Skipped = strings.Join(reasons, ", ")
	peak := uint32(1)
	for _, n := range r.Hourly {
		peak = max(peak, n)
		w.Day += int(n)
	}
	for i, n := range r.Hourly {
		h := 0
		if n > 0 {
			h = max(int(n)*barsH/int(peak), 2)
		}
		start := r.HourStart.Add(time.Duration(i-health.Hours+1) * time.Hour)
		w.Bars = append(w.Bars, bar{
			X: i * (barW + barG), Y: barsH - h, H: h,
			Title: fmt.Sprintf("%s: %d", start.UTC().Format("15:04"), n),
		})
	}
	return w
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// sparkW is the sparkline's width.
const sparkW = health.Hours*(barW+barG) - barG

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"sparkW": func() int { return sparkW },
	"sparkH": func() int { return barsH },
	"barW":   func() int { return barW },
}).Parse(pageHTML))
