package twittertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Snowflake ids carry their creation time: milliseconds since
// SnowflakeEpoch in the bits above the low 22.
const SnowflakeEpoch = 1288834974657 // ms since the Unix epoch

// SnowflakeID returns the smallest snowflake id created at t, e.g. an id
// from the future for a client to refuse.
func SnowflakeID(t time.Time) int64 {
	return (t.UnixMilli() - SnowflakeEpoch) << 22
}

// drop closes the request's connection without a response.
func (s *Server) drop(w http.ResponseWriter, rec Request) {
	rec.Status = 0
	s.record(rec)
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("twittertest: the response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	conn.Close()
}

// hugeBody answers status (0: 200) with a timeline of n bytes
// (Content-Length n), or one without end when n is 0, in the wire format
// of the request's API.
func (s *Server) hugeBody(w http.ResponseWriter, r *http.Request, rec Request, status int, n int64) {
	if status == 0 {
		status = http.StatusOK
	}
	prefix, elem, suffix := s.fillerTimeline(strings.HasPrefix(rec.Path, "/2/"))
	rec.Status = status
	s.record(rec)
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	if n > 0 {
		n = max(n, int64(len(prefix)+len(suffix)))
		h.Set("Content-Length", strconv.FormatInt(n, 10))
	}
	w.WriteHeader(status)

	// A chunk of whole elements, each preceded by a comma, written again
	// and again: the body costs the server one chunk of memory.
	var chunk bytes.Buffer
	for chunk.Len() < 64<<10 {
		chunk.WriteByte(',')
		chunk.Write(elem)
	}
	write := func(b []byte) bool {
		select {
		case <-s.done:
			return false
		case <-r.Context().Done():
			return false
		default:
		}
		_, err := w.Write(b)
		return err == nil
	}
	// The first element has no comma before it.
	body := append(append([]byte{}, prefix...), elem...)
	if n > 0 && int64(len(body)+len(suffix)) > n {
		body = prefix // too small for even one tweet
	}
	if !write(body) {
		return
	}
	sent := int64(len(body))
	for {
		if n > 0 {
			left := n - sent - int64(len(suffix))
			if left < int64(chunk.Len()) {
				// Whitespace between elements is valid JSON: pad to n.
				if !write(bytes.Repeat([]byte(" "), int(left))) {
					return
				}
				write(suffix)
				return
			}
		}
		if !write(chunk.Bytes()) {
			return
		}
		sent += int64(chunk.Len())
	}
}

// fillerTimeline returns a timeline's JSON cut around its one element: a
// v1.1 tweet or a v2 post of the server's user.
func (s *Server) fillerTimeline(v2 bool) (prefix, elem, suffix []byte) {
	s.mu.Lock()
	t := Tweet{
		ID:         idBase,
		Text:       strings.Repeat("filler ", 20) + "https://example.com/filler",
		URLs:       []URL{{Short: "https://t.co/f1llerf1ll", Expanded: "https://example.com/filler"}},
		UserID:     s.opts.UserID,
		ScreenName: s.opts.ScreenName,
		CreatedAt:  time.Now().UTC().Truncate(time.Second),
	}
	var v any
	if v2 {
		v = s.renderV2(t, set(strings.Split(v2FillerFields, ",")))
	} else {
		v = s.render(t, true)
	}
	s.mu.Unlock()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	elem = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if v2 {
		return []byte(`{"data":[`), elem, []byte(`],"meta":{"result_count":1}}`)
	}
	return []byte("["), elem, []byte("]")
}

// v2FillerFields are the tweet.fields of a filler post.
const v2FillerFields = "author_id,created_at,entities,in_reply_to_user_id,referenced_tweets,lang,public_metrics"
