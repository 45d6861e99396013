package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/r2sync/r2sync/daemon"
)

// decodeFormat1 reads a format-1 state file (the whole State in one JSON
// object) from r into c. It streams: a json.Decoder would buffer the whole
// object, and 100,000 pending statuses are tens of MB; here each status
// goes into the cache as it is read. It is strict like the rest: unknown
// or repeated keys and trailing data are damage.
func decodeFormat1(r io.Reader, c *cache) error {
	err := decodeObject(r, c)
	if errors.Is(err, io.EOF) {
		// Inside the object, the end of the file is a file cut short.
		return fmt.Errorf("%w", io.ErrUnexpectedEOF)
	}
	return err
}

func decodeObject(r io.Reader, c *cache) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	var (
		initialized  bool
		lastID       int64
		posted       []daemon.PostRef
		mirrored     int64
		lastMirrored *daemon.Delivered
	)
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		switch key {
		case "initialized":
			err = dec.Decode(&initialized)
		case "last_id":
			lastID, err = decodeID(dec)
		case "pending":
			err = decodePending(dec, c)
		case "posted":
			err = dec.Decode(&posted)
		case "mirrored":
			err = dec.Decode(&mirrored)
		case "last_mirrored":
			err = dec.Decode(&lastMirrored)
		case "format":
			return fmt.Errorf("larger than %d KiB for a format-2 state file", maxPointer>>10)
		default:
			return fmt.Errorf("unknown field %q", key)
		}
		if err != nil {
			if key == "pending" {
				return err
			}
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the state object")
	}
	h, err := legacyHead(initialized, lastID, posted, mirrored, lastMirrored)
	if err != nil {
		return err
	}
	c.setHead(h)
	return nil
}

func decodePending(dec *json.Decoder, c *cache) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("pending: %w", err)
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('[') {
		return errors.New("pending: not a list")
	}
	for i := 0; dec.More(); i++ {
		var st daemon.Status
		if err := dec.Decode(&st); err != nil {
			if errors.Is(err, io.EOF) {
				return err
			}
			return fmt.Errorf("pending[%d]: %w", i, err)
		}
		if _, err := parseLegacyID(st.PostID); err != nil {
			return fmt.Errorf("pending[%d].post_id: %w", i, err)
		}
		// An estimate of its size: the first write replaces the file.
		if err := c.q.add(st, len(st.Text)+100); err != nil {
			return fmt.Errorf("pending[%d].%w", i, err)
		}
	}
	return expectDelim(dec, ']')
}

// decodeID reads a post id written as a JSON string.
func decodeID(dec *json.Decoder) (int64, error) {
	var s string
	if err := dec.Decode(&s); err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a post id", s)
	}
	return id, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("found %v where %v belongs", tok, d)
	}
	return nil
}
