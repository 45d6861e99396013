package statefile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// FuzzDecode feeds arbitrary bytes as state.json and as its journal. The
// Store must never panic; it either refuses them as a CorruptError or
// yields a state that passes Validate and survives a write and a re-read.
func FuzzDecode(f *testing.F) {
	const ptr = `{"format": 2, "initialized": true, "pending": {"journal": "state.json.journal.1", "generation": 1, "nonce": "ab"}}`
	const hdr = `{"journal":{"generation":1,"nonce":"ab"},"more":true}` + "\n"
	const head = `{"head":{"initialized":true,"last_id":"5","mirrored":2,"posted":[{"id":"7"}],"last_mirrored":{"post_id":"4","at":"2026-01-01T00:00:00Z"}}}` + "\n"
	const ptr3 = `{"format": 3, "initialized": true, "pending": {"journal": "state.json.journal.1", "generation": 1, "nonce": "ab"}}`
	const head3 = `{"head":{"initialized":true,"cursors":{"twitter":"5","mastodon":"AZ9"},"mirrored":2,"posted":[{"source":"twitter","id":"7","cursor":"7"}],"last_mirrored":{"post_id":"4","at":"2026-01-01T00:00:00Z"}}}` + "\n"
	const add = `{"add":[{"post_id":"6","text":"a <b> & 你好","queued_at":"2026-01-01T00:00:00Z"},{"post_id":"8","text":"","queued_at":"2026-01-01T00:00:00Z","attempts":2}],"more":true}` + "\n"
	for _, seed := range [][2]string{
		{`{"initialized": true, "last_id": "1864000000000000003", "pending": [{"post_id": "1864000000000000002", "text": "x", "queued_at": "2026-11-23T21:28:00Z"}], "mirrored": 12}`, ""},
		{`{"initialized": false, "pending": null}`, ""},
		{"null", ""},
		{`{"last_id": "-5"}`, ""},
		{`{"initialized": true, "pending": [{"post_id": "3"}, {"post_id": "3"}]}`, ""},
		{ptr, hdr + head},
		{ptr, hdr + add + head},
		{ptr, hdr + add + head + `{"del":["6"],"set":[{"post_id":"8","text":"b","queued_at":"2026-01-01T00:00:00Z"}],"head":{"initialized":true,"last_id":"9","mirrored":3}}` + "\n"},
		{ptr, hdr + head + `{"del":["6"],"he`},
		{ptr, hdr + head + add},
		{ptr, hdr + head + "\x00\x00\n"},
		{ptr, hdr},
		{ptr3, hdr + head3},
		{ptr3, hdr + add + head3 + `{"del":["6"],"head":{"initialized":true,"cursors":{"twitter":"9"},"mirrored":3}}` + "\n"},
		{ptr3, hdr + head},
		{`{"format": 4}`, ""},
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	f.Fuzz(func(t *testing.T, state, journal []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		if err := os.WriteFile(path, state, 0o600); err != nil {
			t.Fatal(err)
		}
		if len(journal) > 0 {
			if err := os.WriteFile(path+".journal.1", journal, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ctx := context.Background()
		s := statefile.New(path)
		defer s.Close()
		st, err := s.Load(ctx)
		if err != nil {
			if !errors.As(err, new(*statefile.CorruptError)) {
				t.Fatalf("Load = %v, want a CorruptError or a state", err)
			}
			return
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("Load accepted an invalid state: %v", err)
		}
		after, err := s.Update(ctx, func(st *daemon.State) error { st.Mirrored++; return nil })
		if err != nil {
			t.Fatalf("Update of an accepted state: %v", err)
		}
		other := statefile.New(path)
		defer other.Close()
		reread, err := other.Load(ctx)
		if err != nil {
			t.Fatalf("re-read after Update: %v", err)
		}
		same(t, "re-read", reread, after)
	})
}
