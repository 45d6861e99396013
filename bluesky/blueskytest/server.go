// Package blueskytest runs an in-process Bluesky for tests and demos, in
// the manner of net/http/httptest: an AppView (resolveHandle,
// getAuthorFeed), a PDS (createSession, createRecord), a PLC directory
// (DID documents under /plc/) and a Jetstream /subscribe WebSocket, all
// on 127.0.0.1 with the JSON shapes of the AT Protocol documentation.
// The PDS checks the app password and the bearer token like the real
// one; the Jetstream sits behind a small proxy that can close every
// stream, go silent (stop passing bytes, pongs included) or be down.
package blueskytest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Server is a running test Bluesky. Its methods are safe for concurrent
// use.
type Server struct {
	// URL is the AppView and PDS base (http://127.0.0.1:port).
	URL string
	// PLCURL is the PLC directory base: GET PLCURL/<did>.
	PLCURL string
	// JetstreamURL is the /subscribe WebSocket URL, behind the fault
	// proxy.
	JetstreamURL string

	srv   *httptest.Server
	proxy *proxy

	mu       sync.Mutex
	accounts map[string]*account // by DID
	handles  map[string]string   // handle → DID
	records  []*record           // posts and reposts, oldest first
	byURI    map[string]*record
	events   []eventEnvelope // the Jetstream log, by time_us
	subs     map[*subscriber]struct{}
	sessions map[string]string // accessJwt → DID
	lastUS   int64
	requests map[string]int
	rlReset  time.Time // the rate-limit window's end
	rlUsed   int
	// ignoreWantedDids makes Jetstream send every account's events, as a
	// broken relay would.
	ignoreWantedDids bool
}

// account is one user.
type account struct {
	did, handle, appPassword string
	pinned                   string // uri of the pinned post, or ""
}

// record is one post or repost in a repo.
type record struct {
	seq        int
	did        string
	collection string
	rkey       string
	cid        string
	value      map[string]any // the record as created
	indexedAt  time.Time
	subject    string // a repost's post uri
	deleted    bool
}

func (r *record) uri() string { return "at://" + r.did + "/" + r.collection + "/" + r.rkey }

// New starts a Server; Close stops it.
func New() *Server {
	s := &Server{
		accounts: map[string]*account{},
		handles:  map[string]string{},
		byURI:    map[string]*record{},
		subs:     map[*subscriber]struct{}{},
		sessions: map[string]string{},
		requests: map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/xrpc/{method}", s.xrpc)
	mux.HandleFunc("GET /plc/{did}", s.plc)
	mux.HandleFunc("GET /subscribe", s.subscribe)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	s.PLCURL = s.srv.URL + "/plc"
	s.proxy = newProxy(s.srv.Listener.Addr().String())
	s.JetstreamURL = "ws://" + s.proxy.addr() + "/subscribe"
	return s
}

// Close stops the server and every stream.
func (s *Server) Close() {
	s.proxy.close()
	s.mu.Lock()
	for sub := range s.subs {
		sub.stop()
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// AddAccount creates an account with a handle and an app password and
// returns its DID (did:plc:…).
func (s *Server) AddAccount(handle, appPassword string) string {
	sum := sha256.Sum256([]byte(handle))
	did := "did:plc:" + strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:24]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[did] = &account{did: did, handle: handle, appPassword: appPassword}
	s.handles[handle] = did
	return did
}

// Requests returns how many requests an XRPC method (or "plc",
// "subscribe") has answered.
func (s *Server) Requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[method]
}

// SetIgnoreWantedDids makes Jetstream send every account's events
// whatever wantedDids says: the client must check the DID itself.
func (s *Server) SetIgnoreWantedDids(on bool) {
	s.mu.Lock()
	s.ignoreWantedDids = on
	s.mu.Unlock()
}

// Facet is an app.bsky.richtext.facet as clients create it.
type Facet struct {
	Index struct {
		ByteStart int `json:"byteStart"`
		ByteEnd   int `json:"byteEnd"`
	} `json:"index"`
	Features []map[string]any `json:"features"`
}

// LinkFacet marks the first occurrence of display in text as a link to
// uri, with UTF-8 byte offsets as the lexicon requires. It panics when
// display is not in text (a broken test).
func LinkFacet(text, display, uri string) Facet {
	i := strings.Index(text, display)
	if i < 0 {
		panic(fmt.Sprintf("blueskytest: %q not in %q", display, text))
	}
	var f Facet
	f.Index.ByteStart, f.Index.ByteEnd = i, i+len(display)
	f.Features = []map[string]any{{"$type": "app.bsky.richtext.facet#link", "uri": uri}}
	return f
}

// TagFacet marks "#tag" in text as the hashtag tag.
func TagFacet(text, tag string) Facet {
	i := strings.Index(text, "#"+tag)
	if i < 0 {
		panic(fmt.Sprintf("blueskytest: #%s not in %q", tag, text))
	}
	var f Facet
	f.Index.ByteStart, f.Index.ByteEnd = i, i+1+len(tag)
	f.Features = []map[string]any{{"$type": "app.bsky.richtext.facet#tag", "tag": tag}}
	return f
}

// Post is what a test posts.
type Post struct {
	Text   string
	Facets []Facet
	// ReplyTo is the uri of the post answered ("" for none); the root is
	// taken from it.
	ReplyTo string
	// Quote is the uri of a quoted post ("" for none).
	Quote string
	// Raw, when set, is sent as the record instead (hostile records).
	Raw map[string]any
}

// Ref names a created record.
type Ref struct {
	URI, CID, RKey string
	// Created is when the server stored it, for delay measurements.
	Created time.Time
}

// CreatePost creates a post in did's repo as the PDS would, and sends
// its commit on Jetstream.
func (s *Server) CreatePost(did string, p Post) (Ref, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accounts[did] == nil {
		return Ref{}, fmt.Errorf("blueskytest: no account %s", did)
	}
	v := p.Raw
	if v == nil {
		v = map[string]any{"$type": "app.bsky.feed.post", "text": p.Text, "createdAt": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "langs": []string{"en"}}
		if len(p.Facets) > 0 {
			v["facets"] = p.Facets
		}
		if p.ReplyTo != "" {
			parent := s.byURI[p.ReplyTo]
			if parent == nil {
				return Ref{}, fmt.Errorf("blueskytest: no post %s to reply to", p.ReplyTo)
			}
			root := map[string]any{"uri": parent.uri(), "cid": parent.cid}
			if r, ok := parent.value["reply"].(map[string]any); ok {
				root = r["root"].(map[string]any)
			}
			v["reply"] = map[string]any{"root": root, "parent": map[string]any{"uri": parent.uri(), "cid": parent.cid}}
		}
		if p.Quote != "" {
			q := s.byURI[p.Quote]
			if q == nil {
				return Ref{}, fmt.Errorf("blueskytest: no post %s to quote", p.Quote)
			}
			v["embed"] = map[string]any{"$type": "app.bsky.embed.record", "record": map[string]any{"uri": q.uri(), "cid": q.cid}}
		}
	}
	r := s.commitLocked(did, "app.bsky.feed.post", v, "")
	return Ref{URI: r.uri(), CID: r.cid, RKey: r.rkey, Created: r.indexedAt}, nil
}

// Repost reposts the post uri as did.
func (s *Server) Repost(did, uri string) (Ref, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	orig := s.byURI[uri]
	if s.accounts[did] == nil || orig == nil {
		return Ref{}, fmt.Errorf("blueskytest: no account %s or post %s", did, uri)
	}
	v := map[string]any{"$type": "app.bsky.feed.repost", "subject": map[string]any{"uri": uri, "cid": orig.cid}, "createdAt": time.Now().UTC().Format(time.RFC3339Nano)}
	r := s.commitLocked(did, "app.bsky.feed.repost", v, uri)
	return Ref{URI: r.uri(), CID: r.cid, RKey: r.rkey, Created: r.indexedAt}, nil
}

// Pin makes uri did's pinned post.
func (s *Server) Pin(did, uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[did]; a != nil {
		a.pinned = uri
	}
}

// Edit replaces a post's text (an update commit).
func (s *Server) Edit(uri, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byURI[uri]
	if r == nil || r.deleted {
		return errors.New("blueskytest: no such post")
	}
	r.value["text"] = text
	s.emitLocked(r, "update")
	return nil
}

// Delete deletes a record (a delete commit).
func (s *Server) Delete(uri string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byURI[uri]
	if r == nil || r.deleted {
		return errors.New("blueskytest: no such record")
	}
	r.deleted = true
	s.emitLocked(r, "delete")
	return nil
}

// commitLocked stores a new record with a fresh TID and emits its
// create commit.
func (s *Server) commitLocked(did, collection string, v map[string]any, subject string) *record {
	us := s.nextUSLocked()
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	r := &record{
		seq:        len(s.records),
		did:        did,
		collection: collection,
		rkey:       tid(us),
		cid:        "bafyrei" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:]))[:52],
		value:      v,
		indexedAt:  time.UnixMicro(us),
		subject:    subject,
	}
	s.records = append(s.records, r)
	s.byURI[r.uri()] = r
	s.emitLocked(r, "create")
	return r
}

// nextUSLocked is the server clock in microseconds, strictly increasing.
func (s *Server) nextUSLocked() int64 {
	us := time.Now().UnixMicro()
	if us <= s.lastUS {
		us = s.lastUS + 1
	}
	s.lastUS = us
	return us
}

// tid encodes microseconds as a TID with clock id 0.
func tid(us int64) string {
	const alphabet = "234567abcdefghijklmnopqrstuvwxyz"
	v := uint64(us) << 10
	var b [13]byte
	for i := 12; i >= 0; i-- {
		b[i] = alphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// token returns a random bearer token shaped like a JWT.
func token() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NksifQ." + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}
