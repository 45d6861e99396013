package renrentest

import (
	"encoding/base64"
	"testing"
)

// TestCredentialsOnPlainStream proves the check behind Violations: a
// password sent before TLS is caught in whatever element it hides.
func TestCredentialsOnPlainStream(t *testing.T) {
	blob := base64.StdEncoding.EncodeToString([]byte("123456@talk.xiaonei.com\x00123456\x00secret"))
	tests := []struct {
		name string
		send string
		want int // violations about credentials
	}{
		{"password in a stanza", "<presence><status>secret</status></presence>", 1},
		{"sasl blob with authzid", "<x>" + blob + "</x>", 1},
		{"nothing secret", "<presence><status>hello</status></presence>", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Options{})
			c := dialRaw(t, s)
			c.open("talk.xiaonei.com")
			c.next() // features
			c.send("%s", tt.send)
			for c.next() != nil {
			}
			waitClosed(t, s)
			n := 0
			for _, v := range s.Violations() {
				if v == "credentials of 123456 on a plain (pre-TLS) stream" {
					n++
				}
			}
			if n != tt.want {
				t.Errorf("violations %q: %d about credentials, want %d", s.Violations(), n, tt.want)
			}
		})
	}
}

// waitClosed waits until the server has released every connection, which
// it does after its checks.
func waitClosed(t *testing.T, s *Server) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
