package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Source names: the `source` key, top level or per [[mirror]].
const (
	SourceTwitter  = "twitter"
	SourceMastodon = "mastodon"
	SourceBluesky  = "bluesky"
)

// Mastodon is the [mastodon] section: a Mastodon account whose own posts
// are mirrored, read with its access token.
type Mastodon struct {
	// Server is the instance's root URL, e.g. "https://mastodon.social".
	Server          string `toml:"server"`
	AccessToken     Secret `toml:"access_token"`
	AccessTokenFile string `toml:"access_token_file"`
	// Stream follows the streaming API for real time; polling fills
	// every gap either way.
	Stream bool `toml:"stream"`
	// Visibility lists the audiences that are mirrored: "public", and
	// "unlisted" if added. Private and direct posts never are.
	Visibility []string `toml:"visibility"`
	// ContentWarning says what becomes of a post with a content warning:
	// "skip" it, show the warning text only ("spoiler"), or the warning
	// and the text ("full").
	ContentWarning string   `toml:"content_warning"`
	PollInterval   Duration `toml:"poll_interval"`
	Timeout        Duration `toml:"timeout"`
}

// Bluesky is the [bluesky] section: a Bluesky account whose own public
// posts are mirrored; reading needs no login.
type Bluesky struct {
	// Handle ("alice.bsky.social") or DID ("did:plc:…") names the
	// account; set one.
	Handle string `toml:"handle"`
	DID    string `toml:"did"`
	// AppView serves resolveHandle and getAuthorFeed.
	AppView string `toml:"appview"`
	// Jetstream is the Jetstream subscribe URL for real time; "" polls
	// only.
	Jetstream string `toml:"jetstream"`
	// AppPassword is needed only by `r2sync post`.
	AppPassword     Secret `toml:"app_password"`
	AppPasswordFile string `toml:"app_password_file"`
	// PDS is where `r2sync post` creates records; "" means the PDS the
	// DID document names.
	PDS string `toml:"pds"`
	// PLCDirectory resolves did:plc DIDs to their documents.
	PLCDirectory string   `toml:"plc_directory"`
	PollInterval Duration `toml:"poll_interval"`
	Timeout      Duration `toml:"timeout"`
}

// Defaults of the source sections.
const (
	DefaultBlueskyAppView   = "https://public.api.bsky.app"
	DefaultBlueskyJetstream = "wss://jetstream2.us-east.bsky.network/subscribe"
	DefaultPLCDirectory     = "https://plc.directory"
)

func defaultMastodon() Mastodon {
	return Mastodon{
		Stream:         true,
		Visibility:     []string{"public"},
		ContentWarning: "skip",
		PollInterval:   Duration{60 * time.Second},
		Timeout:        Duration{30 * time.Second},
	}
}

func defaultBluesky() Bluesky {
	return Bluesky{
		AppView:      DefaultBlueskyAppView,
		Jetstream:    DefaultBlueskyJetstream,
		PLCDirectory: DefaultPLCDirectory,
		PollInterval: Duration{60 * time.Second},
		Timeout:      Duration{30 * time.Second},
	}
}

// SourceKind is the mirror's source: SourceTwitter when none is set.
func (m *Mirror) SourceKind() string {
	if m.Source == "" {
		return SourceTwitter
	}
	return m.Source
}

// PollInterval is the poll interval of the mirror's source section.
func (m *Mirror) PollInterval() time.Duration {
	switch m.SourceKind() {
	case SourceMastodon:
		return m.Mastodon.PollInterval.Duration
	case SourceBluesky:
		return m.Bluesky.PollInterval.Duration
	}
	return m.Twitter.PollInterval.Duration
}

// sourceProblems checks the mirror's source key and the section it names.
func (m *Mirror) sourceProblems(sc scope) []string {
	var probs []string
	add := func(key, rule string, got any) {
		probs = append(probs, fmt.Sprintf("%s: %s (got %q)", sc.key(key), rule, fmt.Sprint(got)))
	}
	durations := func(sec string, poll, timeout time.Duration) {
		if poll < time.Second || poll > maxPollInterval {
			add(sec+".poll_interval", "must be between 1s and 24h", poll)
		}
		if timeout < time.Second || timeout > 5*time.Minute {
			add(sec+".timeout", "must be between 1s and 5m", timeout)
		}
	}
	switch m.SourceKind() {
	case SourceTwitter:
		probs = append(probs, m.twitterProblems(sc, true)...)
		durations("twitter", m.Twitter.PollInterval.Duration, m.Twitter.Timeout.Duration)
	case SourceMastodon:
		c := m.Mastodon
		if c.Server == "" {
			probs = append(probs, sc.missing("mastodon.server")+`, such as "https://mastodon.social"`)
		} else if p := httpURLProblem(c.Server, "https://mastodon.social"); p != "" {
			probs = append(probs, sc.key("mastodon.server")+": "+p)
		}
		if c.AccessToken == "" {
			probs = append(probs, sc.required("mastodon.access_token"))
		}
		if len(c.Visibility) == 0 {
			add("mastodon.visibility", `must list "public" and/or "unlisted"`, "[]")
		}
		for _, v := range c.Visibility {
			switch v {
			case "public", "unlisted":
			case "private", "direct":
				add("mastodon.visibility", "private and direct posts are never mirrored; only \"public\" and \"unlisted\" may be listed", v)
			default:
				add("mastodon.visibility", `must be "public" or "unlisted"`, v)
			}
		}
		switch c.ContentWarning {
		case "skip", "spoiler", "full":
		default:
			add("mastodon.content_warning", "must be skip, spoiler or full", c.ContentWarning)
		}
		durations("mastodon", c.PollInterval.Duration, c.Timeout.Duration)
	case SourceBluesky:
		c := m.Bluesky
		switch {
		case c.Handle == "" && c.DID == "":
			probs = append(probs, sc.missing("bluesky.handle")+` (or bluesky.did), such as "alice.bsky.social"`)
		case c.Handle != "" && c.DID != "":
			add("bluesky.did", "set bluesky.handle or bluesky.did, not both", c.DID)
		case c.Handle != "":
			if h := strings.TrimPrefix(c.Handle, "@"); !validDomain(h) || !strings.Contains(h, ".") {
				add("bluesky.handle", `must be a handle such as "alice.bsky.social"`, c.Handle)
			}
		default:
			if !validDID(c.DID) {
				add("bluesky.did", `must be a DID such as "did:plc:ewvi7nxzyoun6zhxrhs64oiz" or "did:web:example.com"`, c.DID)
			}
		}
		if p := httpURLProblem(c.AppView, DefaultBlueskyAppView); p != "" {
			probs = append(probs, sc.key("bluesky.appview")+": "+p)
		}
		if c.Jetstream != "" {
			if u, err := url.Parse(c.Jetstream); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
				add("bluesky.jetstream", `must be a ws(s) URL such as "`+DefaultBlueskyJetstream+`", or "" to poll only`, c.Jetstream)
			}
		}
		if c.PDS != "" {
			if p := httpURLProblem(c.PDS, "https://bsky.social"); p != "" {
				probs = append(probs, sc.key("bluesky.pds")+": "+p)
			}
		}
		if p := httpURLProblem(c.PLCDirectory, DefaultPLCDirectory); p != "" {
			probs = append(probs, sc.key("bluesky.plc_directory")+": "+p)
		}
		durations("bluesky", c.PollInterval.Duration, c.Timeout.Duration)
	default:
		add("source", `must be "twitter", "mastodon" or "bluesky"`, m.Source)
	}
	return probs
}

// httpURLProblem says what is wrong with a server's root URL, or "".
func httpURLProblem(s, example string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("must be an http(s) URL such as %q (got %q)", example, s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Sprintf("must not have a query, fragment or user info (got %q)", s)
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

// validDID reports whether d looks like a did:plc or did:web DID.
func validDID(d string) bool {
	switch {
	case strings.HasPrefix(d, "did:plc:"):
		id := d[len("did:plc:"):]
		if len(id) != 24 {
			return false
		}
		for _, r := range id {
			if (r < 'a' || r > 'z') && (r < '2' || r > '7') {
				return false
			}
		}
		return true
	case strings.HasPrefix(d, "did:web:"):
		host, _ := url.PathUnescape(d[len("did:web:"):])
		h, _, _ := strings.Cut(host, ":")
		return validHost(h)
	}
	return false
}
