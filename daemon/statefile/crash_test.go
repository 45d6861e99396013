package statefile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/r2sync/r2sync/daemon"
	"github.com/r2sync/r2sync/daemon/statefile"
)

// history runs updates of every kind on a fresh store and returns, for
// each, the journal's length after it and the state it left.
func history(t *testing.T, path string) (ends []int64, states []daemon.State) {
	t.Helper()
	s := statefile.New(path)
	ctx := context.Background()
	record := func() {
		fi, err := os.Stat(path + ".journal.1")
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, fi.Size())
		states = append(states, mustLoad(t, statefile.New(path)))
	}
	mustUpdate(t, s, func(st *daemon.State) error { st.Initialized, st.Cursors = true, at(100); return nil })
	record()
	big := strings.Repeat("长", 30000) // a status longer than a journal chunk
	mustUpdate(t, s, func(st *daemon.State) error {
		st.Pending = append(st.Pending, status(101, "one"), status(102, big), status(103, "three & <four>"))
		st.Cursors = at(103)
		return nil
	})
	record()
	mustUpdate(t, s, func(st *daemon.State) error {
		st.Posted = append(st.Posted, daemon.PostRef{Source: "src", ID: "104", Cursor: "104"})
		return nil
	})
	record()
	steps := []func(st *daemon.State){
		func(st *daemon.State) { st.Pending[0].Attempts = 1 },
		func(st *daemon.State) {
			st.Pending = st.Pending[1:]
			st.Mirrored++
			st.LastMirrored = &daemon.Delivered{PostID: "101", At: t0}
		},
		func(st *daemon.State) { st.Pending = append(st.Pending, status(105, "at the back")) },
	}
	for _, step := range steps {
		if _, _, err := s.UpdateFront(ctx, 1, func(st *daemon.State) error { step(st); return nil }); err != nil {
			t.Fatal(err)
		}
		record()
	}
	return ends, states
}

// A kill -9 (or a power cut) can stop a write anywhere. Whatever prefix of
// the journal reached the disk, the state read back is the state after
// some complete update, never a mix; and the next writer carries on from
// there.
func TestCrashAtEveryByte(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	ends, states := history(t, path)
	pointer, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	journal, err := os.ReadFile(path + ".journal.1")
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(journal)) != ends[len(ends)-1] {
		t.Fatalf("journal is %d bytes, history says %d", len(journal), ends[len(ends)-1])
	}
	crash := filepath.Join(t.TempDir(), "state.json")
	for cut := ends[0]; cut <= int64(len(journal)); cut++ {
		// Only the bytes around batch boundaries and a sample inside them
		// matter; every byte of the 90 KB status would be slow.
		if i := nearest(ends, cut); i > 8 && cut%97 != 0 {
			continue
		}
		if err := os.WriteFile(crash, pointer, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crash+".journal.1", journal[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		want := states[0]
		for i, end := range ends {
			if end <= cut {
				want = states[i]
			}
		}
		s := statefile.New(crash)
		got, err := s.Load(context.Background())
		if err != nil {
			t.Fatalf("cut at %d of %d: %v", cut, len(journal), err)
		}
		same(t, "state after a cut at byte "+strconv.FormatInt(cut, 10), got, want)
		// The next write cuts the unfinished batch off and appends.
		st := mustUpdate(t, s, func(st *daemon.State) error { st.Mirrored += 10; return nil })
		want.Mirrored += 10
		same(t, "update after a cut at byte "+strconv.FormatInt(cut, 10), st, want)
		same(t, "reload after a cut at byte "+strconv.FormatInt(cut, 10), mustLoad(t, statefile.New(crash)), want)
	}
}

// nearest returns the distance from cut to the closest batch boundary.
func nearest(ends []int64, cut int64) int64 {
	d := int64(1 << 62)
	for _, e := range ends {
		d = min(d, max(e-cut, cut-e))
	}
	return d
}

// A crash between writing the next generation's journal and renaming
// state.json leaves that journal behind; it is ignored, then removed.
func TestCrashDuringNewGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := statefile.New(path)
	mustUpdate(t, s, func(st *daemon.State) error { st.Initialized, st.Cursors = true, at(7); return nil })
	if err := os.WriteFile(path+".journal.2", []byte(`{"journal":{"generation":2,"nonce":"x"},"more":true}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp-123", []byte(`{"format": 2`), 0o600); err != nil {
		t.Fatal(err)
	}
	if st := mustLoad(t, statefile.New(path)); last(st) != 7 {
		t.Fatalf("state %+v", st)
	}
	// A reordering forces a new generation, which clears the litter.
	mustUpdate(t, s, func(st *daemon.State) error {
		st.Pending = []daemon.Status{status(9, "b"), status(8, "a")}
		return nil
	})
	mustUpdate(t, s, func(st *daemon.State) error {
		st.Pending = []daemon.Status{st.Pending[1], st.Pending[0]}
		return nil
	})
	st := mustLoad(t, statefile.New(path))
	if len(st.Pending) != 2 || st.Pending[0].PostID != "8" {
		t.Errorf("after reorder: %+v", st.Pending)
	}
	journals, _ := filepath.Glob(path + ".journal.*")
	temps, _ := filepath.Glob(path + ".tmp-*")
	if len(journals) != 1 || len(temps) != 0 {
		t.Errorf("left behind: %q %q", journals, temps)
	}
}

// bigBroken is a format-1 file too large to read at once, cut short.
func bigBroken() string {
	var b strings.Builder
	b.WriteString(`{"initialized": true, "pending": [`)
	for i := range 200 {
		fmt.Fprintf(&b, `{"post_id": "%d", "text": "x"},`, i+1)
	}
	return b.String()
}

func TestCorrupt(t *testing.T) {
	const ptr = `{"format": 2, "initialized": true, "pending": {"journal": "state.json.journal.1", "generation": 1, "nonce": "ab"}}`
	const hdr = `{"journal":{"generation":1,"nonce":"ab"},"more":true}` + "\n"
	const head = `{"head":{"initialized":true,"last_id":"5","mirrored":0}}` + "\n"
	const ptr3 = `{"format": 3, "initialized": true, "pending": {"journal": "state.json.journal.1", "generation": 1, "nonce": "ab"}}`
	const head3 = `{"head":{"initialized":true,"cursors":{"twitter":"5"},"mirrored":0}}` + "\n"
	tests := []struct {
		name, state, journal, want string
	}{
		{name: "truncated", state: "{", want: "unexpected EOF"},
		{name: "array", state: "[]", want: "not a JSON object"},
		{name: "null", state: "null", want: "not a JSON object"},
		{name: "empty", state: "", want: "not a JSON object"},
		{name: "bad id", state: `{"last_id": "x"}`, want: `last_id: "x" is not a post id`},
		{name: "numeric id", state: `{"last_id": 5}`, want: "last_id: json: cannot unmarshal number"},
		{name: "repeated key", state: `{"initialized": true, "pending": [], "pending": []}`, want: `key "pending" appears twice`},
		{name: "pending not a list", state: `{"initialized": true, "pending": {}}`, want: "pending: not a list"},
		{name: "pending unknown field", state: `{"initialized": true, "pending": [{"post_id": "3", "txt": "x"}]}`, want: `pending[0]: json: unknown field "txt"`},
		{name: "big and null", state: "null" + strings.Repeat(" ", 5000), want: "not a JSON object"},
		{name: "big and broken", state: bigBroken(), want: "unexpected EOF"},
		{name: "two objects", state: "{}\n{}", want: "trailing data"},
		{name: "binary", state: "\x00\x00", want: "not a JSON object"},
		{name: "negative cursor", state: `{"initialized": true, "last_id": "-5"}`, want: "last_id: must not be negative (got -5)"},
		{name: "cursor without init", state: `{"initialized": false, "last_id": "5"}`, want: "never initialized"},
		{name: "negative mirrored", state: `{"initialized": true, "mirrored": -1}`, want: "mirrored: must not be negative"},
		{name: "zero pending id", state: `{"initialized": true, "pending": [{"post_id": "0", "text": "x"}]}`, want: "pending[0].post_id: must be positive"},
		{name: "negative pending id", state: `{"initialized": true, "pending": [{"post_id": "-2", "text": "x"}]}`, want: "must be positive"},
		{name: "duplicate pending", state: `{"initialized": true, "pending": [{"post_id": "3", "text": "x"}, {"post_id": "3", "text": "y"}]}`, want: "post 3 queued twice"},
		{name: "negative attempts", state: `{"initialized": true, "pending": [{"post_id": "3", "text": "x", "attempts": -1}]}`, want: "attempts"},
		{name: "zero posted", state: `{"initialized": true, "posted": [{"id": "0"}]}`, want: "posted[0].id"},
		{name: "duplicate posted", state: `{"initialized": true, "posted": [{"id": "4"}, {"id": "4"}]}`, want: "listed twice"},
		{name: "zero last mirrored", state: `{"initialized": true, "last_mirrored": {"post_id": "0"}}`, want: "last_mirrored.post_id"},
		{name: "unknown field", state: `{"initialized": true, "lastid": "5"}`, want: "unknown field"},
		{name: "future format", state: `{"format": 4}`, want: "format 4"},
		{name: "journal missing", state: ptr, want: "journal state.json.journal.1 is missing"},
		{name: "journal elsewhere", state: strings.Replace(ptr, "state.json.journal.1", "../x.journal.1", 1), journal: hdr + head, want: "is not the journal"},
		{name: "journal of another generation", state: ptr, journal: strings.Replace(hdr, `"ab"`, `"cd"`, 1) + head, want: "state.json names generation 1"},
		{name: "journal without header", state: ptr, journal: head, want: "does not name the journal"},
		{name: "journal empty", state: ptr, journal: "", want: "ends inside its first batch"},
		{name: "first batch torn", state: ptr, journal: hdr + `{"head":{"initi`, want: "ends inside its first batch"},
		{name: "init disagrees", state: strings.Replace(ptr, "true", "false", 1), journal: hdr + head, want: "initialized is false in state.json"},
		{name: "journal negative cursor", state: ptr, journal: hdr + strings.Replace(head, `"5"`, `"-5"`, 1), want: "last_id: must not be negative"},
		{name: "journal del unknown", state: ptr, journal: hdr + head + `{"del":["9"],"head":{"initialized":true,"last_id":"5","mirrored":0}}` + "\n", want: "post 9 is not pending"},
		{name: "journal add twice", state: ptr, journal: hdr + `{"add":[{"post_id":"6","text":"a","queued_at":"2026-01-01T00:00:00Z"},{"post_id":"6","text":"b","queued_at":"2026-01-01T00:00:00Z"}],"more":true}` + "\n" + head, want: "post 6 queued twice"},
		{name: "journal garbage in the middle", state: ptr, journal: hdr + head + "#!@\n" + head, want: "not JSON"},
		{name: "journal unknown field", state: ptr, journal: hdr + head + `{"drop":true,"head":{"initialized":true,"mirrored":0}}` + "\n", want: "unknown field"},
		{name: "journal null line", state: ptr, journal: hdr + head + "null\n", want: "not a JSON object"},
		{name: "journal head with more", state: ptr, journal: hdr + `{"head":{"initialized":true,"mirrored":0},"more":true}` + "\n" + head, want: "says more follows"},
		{name: "journal header twice", state: ptr, journal: hdr + head + hdr + head, want: "header inside the journal"},
		// Format 3: cursors by source, ids and cursors opaque.
		{name: "format 3 with last_id", state: ptr3, journal: hdr + head, want: `head: unknown field "last_id"`},
		{name: "format 2 with cursors", state: ptr, journal: hdr + head3, want: `head: unknown field "cursors"`},
		{name: "format 3 cursors before init", state: strings.Replace(ptr3, "true", "false", 1), journal: hdr + strings.Replace(head3, "true", "false", 1), want: "cursors: set on a state that was never initialized"},
		{name: "format 3 claim of no source", state: ptr3, journal: hdr + strings.Replace(head3, `"mirrored"`, `"posted":[{"id":"7"}],"mirrored"`, 1), want: "posted[0].source: must not be empty"},
		{name: "format 3 empty pending id", state: ptr3, journal: hdr + `{"add":[{"post_id":"","text":"a","queued_at":"2026-01-01T00:00:00Z"}],"more":true}` + "\n" + head3, want: "post_id: must not be empty"},
		{name: "format 2 claim with a source", state: ptr, journal: hdr + strings.Replace(head, `"mirrored"`, `"posted":[{"source":"x","id":"7"}],"mirrored"`, 1), want: "only an id belongs here before format 3"},
		{name: "format 2 pending id not a number", state: ptr, journal: hdr + `{"add":[{"post_id":"a1","text":"a","queued_at":"2026-01-01T00:00:00Z"}],"more":true}` + "\n" + head, want: `post_id: "a1" is not a post id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if err := os.WriteFile(path, []byte(tt.state), 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.journal != "" || tt.name == "journal empty" {
				if err := os.WriteFile(path+".journal.1", []byte(tt.journal), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for _, op := range []string{"Load", "Update"} {
				var err error
				if op == "Load" {
					_, err = statefile.New(path).Load(context.Background())
				} else {
					_, err = statefile.New(path).Update(context.Background(), func(*daemon.State) error { return nil })
				}
				var c *statefile.CorruptError
				if !errors.As(err, &c) || !daemon.IsFatal(err) {
					t.Fatalf("%s = %v, want a fatal CorruptError", op, err)
				}
				msg := err.Error()
				if !strings.Contains(msg, tt.want) {
					t.Errorf("%s: message %q lacks %q", op, msg, tt.want)
				}
				if !strings.Contains(msg, path) || !strings.Contains(msg, "r2sync state reset") || strings.Contains(msg, "\n") {
					t.Errorf("%s: message %q should be one line naming the file and the way out", op, msg)
				}
			}
			if b, _ := os.ReadFile(path); string(b) != tt.state {
				t.Errorf("a corrupt state file was rewritten: %q", b)
			}
		})
	}
}

// The remains of an unfinished write at the end of the journal are not
// damage: they are ignored, whatever they look like.
func TestTornTailIgnored(t *testing.T) {
	const ptr = `{"format": 3, "initialized": true, "pending": {"journal": "state.json.journal.1", "generation": 1, "nonce": "ab"}}`
	const good = `{"journal":{"generation":1,"nonce":"ab"},"more":true}` + "\n" + `{"head":{"initialized":true,"cursors":{"src":"5"},"mirrored":0}}` + "\n"
	for name, tail := range map[string]string{
		"half a line":         `{"del":["1"],"he`,
		"line without ending": `{"head":{"initialized":true,"cursors":{"src":"6"},"mirrored":0}}`,
		"unfinished batch":    `{"add":[{"post_id":"6","text":"a","queued_at":"2026-01-01T00:00:00Z"}],"more":true}` + "\n",
		"zeros":               "\x00\x00\x00\x00\n\x00\x00",
		"zeros then half":     "\x00\x00\n" + `{"head":`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			os.WriteFile(path, []byte(ptr), 0o600)
			os.WriteFile(path+".journal.1", []byte(good+tail), 0o600)
			st, err := statefile.New(path).Load(context.Background())
			if err != nil || last(st) != 5 || len(st.Pending) != 0 {
				t.Fatalf("Load = %+v, %v; want the state before the torn write", st, err)
			}
			mustUpdate(t, statefile.New(path), func(st *daemon.State) error { st.Mirrored = 1; return nil })
			if b, _ := os.ReadFile(path + ".journal.1"); strings.Contains(string(b), tail) {
				t.Errorf("the torn tail was not cut off:\n%q", b)
			}
			if st := mustLoad(t, statefile.New(path)); st.Mirrored != 1 || last(st) != 5 {
				t.Errorf("after the next write: %+v", st)
			}
		})
	}
}

// Damage that another process appended while this one had the state in
// memory is found under the lock and named by its line in the journal.
func TestDamageInTailNamesTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := statefile.New(path)
	defer s.Close()
	mustUpdate(t, s, func(st *daemon.State) error { st.Initialized, st.Cursors = true, at(5); return nil })
	mustUpdate(t, s, func(st *daemon.State) error { st.Mirrored = 1; return nil })
	f, err := os.OpenFile(path+".journal.1", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"del":["9"],"head":{"initialized":true,"cursors":{"src":"5"},"mirrored":1}}` + "\n")
	f.Close()
	_, err = s.Load(context.Background())
	if !errors.As(err, new(*statefile.CorruptError)) || !strings.Contains(err.Error(), "line 4: del: post 9 is not pending") {
		t.Errorf("Load = %v, want the damage at line 4", err)
	}
}

// No write may make the journal unreadable: a status longer than a
// journal line may be is refused, and nothing is saved.
func TestOverlongStatusRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := statefile.New(path)
	defer s.Close()
	mustUpdate(t, s, func(st *daemon.State) error { st.Initialized = true; return nil })
	huge := strings.Repeat("\x01", 2<<20) // escaped as \u0001: 12 MiB of JSON
	_, err := s.Update(context.Background(), func(st *daemon.State) error {
		st.Pending = append(st.Pending, status(1, huge))
		return nil
	})
	if !errors.As(err, new(*statefile.InvalidError)) {
		t.Fatalf("Update = %v, want an InvalidError", err)
	}
	if st := mustLoad(t, statefile.New(path)); len(st.Pending) != 0 {
		t.Errorf("pending %d after a refused update", len(st.Pending))
	}
}
