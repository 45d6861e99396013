package renren

import (
	"bytes"
	"fmt"
	"io"
)

// Bounds on what one unfinished piece of a server's stream may hold.
// encoding/xml buffers a token (an attribute value, a name, a run of text,
// a comment) until it ends, and gosrc.io/xmpp decodes a whole stanza into
// memory, so a server sending a never-ending one would otherwise grow the
// process until it runs out of memory. Prosody's own c2s default is
// 256 KiB and ejabberd's 64 KiB; Renren's news-feed messages were a few
// KiB.
const (
	maxStanzaBytes = 1 << 20
	maxStanzaDepth = 256 // elements nested in one stanza
	// maxAttributes bounds the attributes of one element: encoding/xml
	// keeps each in a 48-byte xml.Attr and more, so a 1 MiB tag of
	// " a=''" would take some 30 MiB. Stanzas carry a handful.
	maxAttributes = 64
)

// limitError ends a connection whose server sent more than the limiter
// allows.
type limitError struct {
	what   string // "stanza", "stream header", ...
	limit  string // "over 1 MiB", "nested over 256 elements deep"
	syntax bool   // bytes that encoding/xml refuses too, or a directive
	shape  bool   // too deep or too many attributes, rather than too big
}

func (e *limitError) Error() string { return "server sent a " + e.what + " " + e.limit }

// limiter passes a server's bytes to the XML decoder and fails the read
// once one unfinished stanza, the stream header, or anything between two
// stanzas, holds more than max bytes or nests deeper than maxDepth. It
// follows just enough of XML (tags, quoted attribute values, comments,
// CDATA sections, processing instructions) to know where a top-level
// element ends; it never resets its count earlier than encoding/xml would
// (FuzzLimiter checks this), so whatever the bytes, the decoder holds at
// most max of them for the current stanza. A document type declaration
// (<!DOCTYPE ...>), which XMPP forbids (RFC 6120 11.1), fails the read.
//
// A limiter is not safe for concurrent use; the decoder reads it from one
// goroutine.
type limiter struct {
	r   io.Reader
	s   scanner
	err error // sticky
}

func newLimiter(r io.Reader, max, maxDepth int) *limiter {
	return &limiter{r: r, s: scanner{max: max, maxDepth: maxDepth}}
}

// Read fills p from the connection and scans it. A chunk that crosses a
// limit is not returned at all: the connection is done for.
func (l *limiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	if _, serr := l.s.scan(p[:n]); serr != nil {
		l.err = serr
		return 0, serr
	}
	return n, err
}

// scanState is where the scanner is in the XML grammar.
type scanState uint8

const (
	stText      scanState = iota // character data, or between elements
	stLT                         // after '<'
	stStartTag                   // in <name attr='v' ...
	stAttr                       // in a quoted attribute value
	stEndTag                     // in </name ...
	stPI                         // in <? ... ?>
	stBang                       // after "<!"
	stBangDash                   // after "<!-"
	stComment                    // in <!-- ... -->
	stCDATAHead                  // matching "[CDATA[" after "<!"
	stCDATA                      // in <![CDATA[ ... ]]>
)

const cdataHead = "[CDATA["

// scanner is the limiter's state machine, separate from any reader so that
// the fuzz target can drive it byte by byte.
type scanner struct {
	max, maxDepth int

	n     int // bytes since the last boundary
	depth int // open elements; the stream header is depth 1
	st    scanState
	quote byte // the quote that ends the attribute value
	p1    byte // the byte before, within the current construct
	p2    byte // the byte before p1
	head  int  // bytes of cdataHead matched
	attrs int  // attribute values in the current start tag
}

// scan consumes b. It returns how many bytes of b it accepted and, once a
// limit is crossed or the stream holds a directive, an error.
func (s *scanner) scan(b []byte) (int, error) {
	for i := 0; i < len(b); i++ {
		// Fast paths: the bytes a hostile server repeats are text and
		// attribute values, where only one byte matters.
		switch s.st {
		case stText:
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				j = len(b) - i
			}
			if s.n+j > s.max {
				return i + s.max - s.n, s.tooBig()
			}
			s.n += j
			i += j
			if i == len(b) {
				return i, nil
			}
		case stAttr:
			j := bytes.IndexByte(b[i:], s.quote)
			if j < 0 {
				j = len(b) - i
			}
			if s.n+j > s.max {
				return i + s.max - s.n, s.tooBig()
			}
			s.n += j
			i += j
			if i == len(b) {
				return i, nil
			}
		}
		s.n++
		if s.n > s.max {
			return i, s.tooBig()
		}
		if err := s.step(b[i]); err != nil {
			return i, err
		}
	}
	return len(b), nil
}

// step moves the state machine over one byte, already counted.
func (s *scanner) step(c byte) error {
	switch s.st {
	case stText:
		if c == '<' {
			s.st = stLT
		}
	case stLT:
		switch c {
		case '/':
			s.st = stEndTag
		case '?':
			s.st, s.p1 = stPI, 0
		case '!':
			s.st = stBang
		default:
			s.st, s.p1, s.attrs = stStartTag, c, 0
		}
	case stStartTag:
		switch c {
		case '\'', '"':
			s.st, s.quote = stAttr, c
			if s.attrs++; s.attrs > maxAttributes {
				return &limitError{what: "stanza", limit: fmt.Sprintf("with over %d attributes on one element", maxAttributes), shape: true}
			}
		case '>':
			s.st = stText
			if s.p1 == '/' { // <x/>: complete where it stands
				if s.depth <= 1 {
					s.n = 0
				}
				return nil
			}
			s.depth++
			if s.depth == 1 { // the stream header is complete
				s.n = 0
			}
			if s.depth-1 > s.maxDepth {
				return &limitError{what: "stanza", limit: fmt.Sprintf("nested over %d elements deep", s.maxDepth), shape: true}
			}
			return nil
		}
		s.p1 = c
	case stAttr:
		if c == s.quote {
			s.st, s.p1 = stStartTag, 0
		}
	case stEndTag:
		if c == '>' {
			s.st = stText
			if s.depth > 0 {
				s.depth--
			}
			if s.depth <= 1 { // a stanza, or the stream, ended
				s.n = 0
			}
		}
	case stPI:
		if c == '>' && s.p1 == '?' {
			s.st = stText
		}
		s.p1 = c
	case stBang:
		switch c {
		case '-':
			s.st = stBangDash
		case '[':
			s.st, s.head = stCDATAHead, 1
		default:
			return &limitError{what: "document type declaration", limit: "(<!...>), which XMPP forbids", syntax: true}
		}
	case stBangDash:
		if c != '-' {
			return &limitError{what: "malformed comment", limit: "(<!-)", syntax: true}
		}
		s.st, s.p1, s.p2 = stComment, 0, 0
	case stComment:
		if c == '>' && s.p1 == '-' && s.p2 == '-' {
			s.st = stText
		}
		s.p2, s.p1 = s.p1, c
	case stCDATAHead:
		if c != cdataHead[s.head] {
			return &limitError{what: "malformed CDATA section", limit: "(<![)", syntax: true}
		}
		s.head++
		if s.head == len(cdataHead) {
			s.st, s.p1, s.p2 = stCDATA, 0, 0
		}
	case stCDATA:
		if c == '>' && s.p1 == ']' && s.p2 == ']' {
			s.st = stText
		}
		s.p2, s.p1 = s.p1, c
	}
	return nil
}

func (s *scanner) tooBig() error {
	what := "stanza"
	if s.depth == 0 {
		what = "stream header"
	}
	return &limitError{what: what, limit: "over " + formatBytes(s.max)}
}

func formatBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
