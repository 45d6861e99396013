package bluesky

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/r2sync/r2sync/daemon"
)

// didDocument is the part of a DID document r2sync reads.
type didDocument struct {
	ID          string   `json:"id"`
	AlsoKnownAs []string `json:"alsoKnownAs"`
	Service     []struct {
		ID              string `json:"id"`
		Type            string `json:"type"`
		ServiceEndpoint string `json:"serviceEndpoint"`
	} `json:"service"`
}

// handle returns the handle the document claims (at://handle), or "".
func (d *didDocument) handle() string {
	for _, a := range d.AlsoKnownAs {
		if h, ok := strings.CutPrefix(a, "at://"); ok && h != "" && !strings.Contains(h, "/") {
			return h
		}
	}
	return ""
}

// pds returns the #atproto_pds service endpoint, or "".
func (d *didDocument) pds() string {
	for _, s := range d.Service {
		if (s.ID == "#atproto_pds" || s.ID == d.ID+"#atproto_pds") && s.Type == "AtprotoPersonalDataServer" {
			if u, err := url.Parse(s.ServiceEndpoint); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
				return strings.TrimRight(s.ServiceEndpoint, "/")
			}
		}
	}
	return ""
}

// resolveHandle asks the AppView for the DID of handle.
func (c *Client) resolveHandle(ctx context.Context, handle string) (string, error) {
	var r struct {
		DID string `json:"did"`
	}
	if err := c.xrpc(ctx, c.opts.AppView, "com.atproto.identity.resolveHandle", url.Values{"handle": {handle}}, nil, "", &r); err != nil {
		return "", fmt.Errorf("resolve handle %s: %w", handle, err)
	}
	if !validDID(r.DID) {
		return "", fmt.Errorf("resolve handle %s: answer has no valid did (%q)", handle, shorten(r.DID))
	}
	return r.DID, nil
}

// didDoc fetches the DID document of did: did:plc from the PLC
// directory, did:web from its host's /.well-known/did.json.
func (c *Client) didDoc(ctx context.Context, did string) (*didDocument, error) {
	var target string
	if host, ok := strings.CutPrefix(did, "did:web:"); ok {
		if strings.Contains(host, ":") {
			return nil, fmt.Errorf("resolve %s: did:web with a path or port is not supported; set bluesky.pds", did)
		}
		target = "https://" + host + "/.well-known/did.json"
	} else {
		target = c.opts.PLCDirectory + "/" + url.PathEscape(did)
	}
	var d didDocument
	if err := c.do(ctx, "resolve "+did, http.MethodGet, target, nil, "", &d); err != nil {
		return nil, err
	}
	if d.ID != did {
		return nil, fmt.Errorf("resolve %s: document is for %q", did, shorten(d.ID))
	}
	return &d, nil
}

// me returns the account (DID and handle), resolving it once.
func (c *Client) me(ctx context.Context) (daemon.Account, error) {
	c.mu.Lock()
	a := c.account
	c.mu.Unlock()
	if a != nil {
		return *a, nil
	}
	acc, _, err := c.lookup(ctx)
	if err != nil {
		return daemon.Account{}, err
	}
	c.mu.Lock()
	c.account = &acc
	c.mu.Unlock()
	return acc, nil
}

// lookup resolves the configured handle or DID; with a DID it also
// returns its document.
func (c *Client) lookup(ctx context.Context) (daemon.Account, *didDocument, error) {
	if c.opts.DID == "" {
		did, err := c.resolveHandle(ctx, c.opts.Handle)
		if err != nil {
			return daemon.Account{}, nil, err
		}
		return daemon.Account{ID: did, Handle: c.opts.Handle}, nil, nil
	}
	d, err := c.didDoc(ctx, c.opts.DID)
	if err != nil {
		return daemon.Account{}, nil, err
	}
	h := d.handle()
	if c.opts.Handle != "" {
		h = c.opts.Handle
	}
	if h == "" {
		h = c.opts.DID
	}
	return daemon.Account{ID: c.opts.DID, Handle: h}, d, nil
}

// Verify implements daemon.Verifier: it checks that the account exists
// (the handle resolves, or the DID has a document) and, when an app
// password is set, that it logs in; it returns the account.
func (c *Client) Verify(ctx context.Context) (daemon.Account, error) {
	acc, _, err := c.lookup(ctx)
	if err != nil {
		return daemon.Account{}, fmt.Errorf("verify bluesky account: %w", err)
	}
	if c.opts.Handle != "" && c.opts.DID != "" {
		// Both given: they must name the same account.
		did, err := c.resolveHandle(ctx, c.opts.Handle)
		if err != nil {
			return daemon.Account{}, fmt.Errorf("verify bluesky account: %w", err)
		}
		if did != c.opts.DID {
			return daemon.Account{}, fmt.Errorf("verify bluesky account: handle %s is %s, not the configured did %s", c.opts.Handle, did, c.opts.DID)
		}
	}
	c.mu.Lock()
	c.account = &acc
	c.mu.Unlock()
	if c.opts.AppPassword != "" {
		// An app password is there for `r2sync post`: a wrong one is
		// better found now than when posting.
		if _, err := c.login(ctx, acc, true); err != nil {
			return daemon.Account{}, fmt.Errorf("verify bluesky app password: %w", err)
		}
	}
	return acc, nil
}

// pdsOf returns the PDS to post to: the configured one or the DID
// document's.
func (c *Client) pdsOf(ctx context.Context, did string) (string, error) {
	if c.opts.PDS != "" {
		return c.opts.PDS, nil
	}
	c.mu.Lock()
	p := c.pds
	c.mu.Unlock()
	if p != "" {
		return p, nil
	}
	d, err := c.didDoc(ctx, did)
	if err != nil {
		return "", err
	}
	p = d.pds()
	if p == "" {
		return "", errors.New("the DID document names no #atproto_pds service; set bluesky.pds")
	}
	c.mu.Lock()
	c.pds = p
	c.mu.Unlock()
	return p, nil
}
