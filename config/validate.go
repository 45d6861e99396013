package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of values whose extremes only fail at run time: a poll interval
// of years overflows the health monitor's stall window (the watchdog
// would then restart r2sync forever), and a status template is one line.
const (
	maxPollInterval   = 24 * time.Hour
	maxTemplateLength = 4096
	maxResourceLength = 1023 // RFC 7622 resourcepart, in bytes
	maxLocalLength    = 1023 // RFC 7622 localpart, in bytes
)

// twitterProblems checks a mirror's [twitter] API and credentials; the
// access token only when requireAccess. sc names the keys.
func (c *Mirror) twitterProblems(sc scope, requireAccess bool) []string {
	var probs []string
	add := func(key, rule string, got any) {
		probs = append(probs, fmt.Sprintf("%s: %s (got %q)", sc.key(key), rule, fmt.Sprint(got)))
	}
	required := func(key string, v Secret) {
		if v == "" {
			probs = append(probs, sc.required(key))
		}
	}
	switch c.Twitter.API {
	case "", "v2", "v1.1":
	default:
		add("twitter.api", `must be "v2" or "v1.1", or empty to choose by api_base`, c.Twitter.API)
	}
	if c.Twitter.APIBase != "" {
		if p := apiBaseProblem(c.Twitter.APIBase); p != "" {
			probs = append(probs, sc.key("twitter.api_base")+": "+p)
		}
	}
	required("twitter.consumer_key", c.Twitter.ConsumerKey)
	required("twitter.consumer_secret", c.Twitter.ConsumerSecret)
	if requireAccess {
		required("twitter.access_token", c.Twitter.AccessToken)
		required("twitter.access_secret", c.Twitter.AccessSecret)
	}
	return probs
}

// apiBaseProblem says what is wrong with an API root URL, or "".
func apiBaseProblem(base string) string {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("must be an http(s) URL such as \"https://api.x.com/2/\" or \"https://social.example/api/\" (got %q)", base)
	}
	if !strings.HasSuffix(u.Path, "/") {
		return fmt.Sprintf("must end with \"/\" (got %q)", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Sprintf("must not have a query, fragment or user info (got %q)", base)
	}
	if !validHost(u.Hostname()) {
		return fmt.Sprintf("host %q is not a valid host name or IP address", u.Hostname())
	}
	if p := u.Port(); p != "" {
		if msg := portProblem(p); msg != "" {
			return msg
		}
	}
	return ""
}

// Validate checks every value and reports all problems in one line, each
// naming the key, the rule and the value (never a secret's value). What
// it accepts must not fail later for the same reason: `check` passing and
// `run` failing on the value would have systemd restart r2sync forever.
// With [[mirror]], every mirror's merged values are checked and each
// problem names the mirror (see mirrorsProblems).
func (c *Config) Validate() error {
	var probs []string
	if c.multi() {
		probs = c.mirrorsProblems()
	} else {
		m := c.Mirrors()[0]
		probs = m.problems(scope{env: topEnvPrefix})
	}
	probs = append(probs, c.globalProblems()...)
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "; "))
	}
	return nil
}

// problems checks one mirror's [twitter], [renren] and [sync] values and
// its state file; sc names the keys.
func (c *Mirror) problems(sc scope) []string {
	var probs []string
	add := func(key, rule string, got any) {
		probs = append(probs, fmt.Sprintf("%s: %s (got %q)", sc.key(key), rule, fmt.Sprint(got)))
	}
	addf := func(key, format string, a ...any) {
		probs = append(probs, sc.key(key)+": "+fmt.Sprintf(format, a...))
	}
	required := func(key string, v Secret) {
		if v == "" {
			probs = append(probs, sc.required(key))
		}
	}

	probs = append(probs, c.sourceProblems(sc)...)

	if c.Renren.JID == "" {
		probs = append(probs, sc.missing("renren.jid"))
	} else if p := renrenJIDProblem(c.Renren.JID); p != "" {
		addf("renren.jid", "%s", p)
	}
	required("renren.password", c.Renren.Password)
	if c.Renren.Address != "" {
		if p := renrenAddressProblem(c.Renren.Address); p != "" {
			addf("renren.address", "%s", p)
		}
	}
	if c.Renren.ServerName != "" && !validHost(c.Renren.ServerName) {
		addf("renren.server_name", "%q is not a valid host name or IP address", c.Renren.ServerName)
	}
	if c.Renren.CAFile != "" {
		if fi, err := os.Stat(c.Renren.CAFile); err != nil || !fi.Mode().IsRegular() {
			add("renren.ca_file", "must be a readable PEM file", c.Renren.CAFile)
		}
	}
	switch r := c.Renren.Resource; {
	case r == "" || strings.ContainsAny(r, "/@"):
		add("renren.resource", "must be a non-empty name without / or @", r)
	case !printable(r) || len(r) > maxResourceLength:
		add("renren.resource", fmt.Sprintf("must be printable text of at most %d bytes", maxResourceLength), r)
	}
	if d := c.Renren.PingInterval.Duration; d < 5*time.Second || d > time.Hour {
		add("renren.ping_interval", "must be between 5s and 1h", d)
	}
	probs = append(probs, c.renrenKeyProblems(sc)...)

	if p := templateProblem(c.Sync.Template); p != "" {
		if len(c.Sync.Template) > 200 {
			addf("sync.template", "%s", p)
		} else {
			add("sync.template", p, c.Sync.Template)
		}
	}
	if c.Sync.MaxLength < 0 {
		add("sync.max_length", "must be 0 (no limit) or more", c.Sync.MaxLength)
	}
	probs = append(probs, c.Sync.filterProblems(sc)...)

	switch f := c.StateFile; {
	case f == "":
		add("state.file", "required", f)
	case strings.ContainsRune(f, 0) || strings.HasSuffix(f, "/"):
		add("state.file", "must be a file path such as \"/var/lib/r2sync/state.json\"", f)
	default:
		if fi, err := os.Stat(f); err == nil && fi.IsDir() {
			addf("state.file", "%s is a directory; name a file in it, such as %q", f, strings.TrimSuffix(f, "/")+"/state.json")
		}
	}
	return probs
}

// globalProblems checks what all mirrors share: [state] as a whole,
// [log] and [http].
func (c *Config) globalProblems() []string {
	var probs []string
	add := func(key, rule string, got any) {
		probs = append(probs, fmt.Sprintf("%s: %s (got %q)", key, rule, fmt.Sprint(got)))
	}
	probs = append(probs, c.stateProblems()...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "console", "json":
	default:
		add("log.format", "must be console or json", c.Log.Format)
	}
	if c.HTTP.Listen != "" && !validListen(c.HTTP.Listen) {
		add("http.listen", "must be host:port with a port from 1 to 65535, such as \"127.0.0.1:9479\"", c.HTTP.Listen)
	}
	if c.HTTP.Listen != "" && validListen(c.HTTP.Listen) && c.HTTP.TokenFile == "" && !LoopbackListen(c.HTTP.Listen) {
		probs = append(probs, fmt.Sprintf("http.token_file: required when http.listen is not a loopback address (got listen %q): the status page shows status texts", c.HTTP.Listen))
	}
	if c.HTTP.TokenFile != "" && c.HTTP.Token != "" && len(c.HTTP.Token.Value()) < MinTokenLength {
		probs = append(probs, fmt.Sprintf("http.token_file: the token in %s must be at least %d characters (got %d)", c.HTTP.TokenFile, MinTokenLength, len(c.HTTP.Token.Value())))
	}
	return probs
}

// jidProblem says what is wrong with a bare JID, or "". The rules are
// those the XMPP session applies when it dials, so that a JID `check`
// accepts is one `run` can use.
func jidProblem(jid string) string {
	local, domain, ok := strings.Cut(jid, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(domain, "/@ ") {
		return fmt.Sprintf("must be a bare JID such as \"123456@talk.xiaonei.com\" (got %q)", jid)
	}
	// RFC 7622 forbids these in a localpart; the library would send them
	// unescaped in the SASL exchange.
	if strings.ContainsAny(local, "\"&'/:<>@") || !printable(local) || strings.ContainsRune(local, ' ') || len(local) > maxLocalLength {
		return fmt.Sprintf("user %q is not a valid JID localpart (no spaces or \"&'/:<>)", local)
	}
	// An IPv4 literal is a valid domainpart; an IPv6 one would need
	// brackets, which the XMPP session does not accept.
	if ip := net.ParseIP(domain); !validDomain(domain) && (ip == nil || ip.To4() == nil) {
		return fmt.Sprintf("domain %q is not a valid domain name", domain)
	}
	return ""
}

// addressProblem says what is wrong with a "host:port" to dial, or "".
func addressProblem(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return fmt.Sprintf("must be host:port such as \"talk.xiaonei.com:5222\" (got %q)", addr)
	}
	if !validHost(host) {
		return fmt.Sprintf("host %q is not a valid host name or IP address", host)
	}
	return portProblem(port)
}

// portProblem says what is wrong with a TCP port, or "".
func portProblem(port string) string {
	n, err := strconv.ParseUint(port, 10, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return fmt.Sprintf("port %q must be a number from 1 to 65535", port)
	case err != nil || n < 1 || n > 65535:
		return fmt.Sprintf("port %s out of range 1-65535", port)
	}
	return ""
}

// LoopbackListen reports whether the listen address addr binds to a
// loopback address only: "localhost" or a loopback IP. ":port", 0.0.0.0,
// [::] and every other name count as reachable from elsewhere.
func LoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validListen accepts "host:port" and ":port" with a numeric port.
func validListen(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || (host != "" && !validHost(host)) {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// validHost accepts a domain name or an IP address (without brackets).
func validHost(h string) bool { return validDomain(h) || validIP(h) }

// validIP accepts an IPv4 or IPv6 address without brackets (as
// net.SplitHostPort and url.URL.Hostname return it).
func validIP(h string) bool { return net.ParseIP(h) != nil }

// validDomain accepts a DNS name of letters (any script, for IDNs),
// digits and inner hyphens in labels of 1 to 63 bytes, at most 253 bytes
// in all. All-numeric names are IPv4 addresses or nothing.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 || !utf8.ValidString(d) {
		return false
	}
	numeric := true
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			switch {
			case r == '-' || unicode.IsLetter(r):
				numeric = false
			case unicode.IsDigit(r):
			default:
				return false
			}
		}
	}
	return !numeric
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// templateProblem says what is wrong with a status template, or "".
//
// Go's text/template cannot be interrupted once it runs, so a status
// template must not be able to run for long: a {{range}} over a number
// (or over .ID, which is 1 in the start-up sample and a huge number in a
// real tweet) or a recursive {{template}} would hang the poller, or the
// start, where even SIGTERM cannot stop it. A status is one short line
// from one tweet, which has no list to range over, so neither is allowed.
func templateProblem(text string) string {
	if text == "" {
		return "must not be empty"
	}
	if len(text) > maxTemplateLength {
		return fmt.Sprintf("must be at most %d bytes (got %d)", maxTemplateLength, len(text))
	}
	t, err := template.New("status").Option("missingkey=error").Parse(text)
	if err != nil {
		return "must be a Go text/template: " + strings.TrimPrefix(err.Error(), "template: ")
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		if what := loopIn(tt.Tree.Root); what != "" {
			return fmt.Sprintf("{{%s}} is not allowed in a status template: a loop or recursion could run forever", what)
		}
	}
	return ""
}

// loopIn returns the first looping construct under n: "range" or
// "template" (which {{block}} is too), or "".
func loopIn(n parse.Node) string {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return ""
		}
		for _, c := range n.Nodes {
			if w := loopIn(c); w != "" {
				return w
			}
		}
	case *parse.RangeNode:
		return "range"
	case *parse.TemplateNode:
		return "template"
	case *parse.IfNode:
		return firstOf(n.List, n.ElseList)
	case *parse.WithNode:
		return firstOf(n.List, n.ElseList)
	}
	return ""
}

func firstOf(lists ...*parse.ListNode) string {
	for _, l := range lists {
		if w := loopIn(l); w != "" {
			return w
		}
	}
	return ""
}
