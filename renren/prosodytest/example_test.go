package prosodytest_test

import (
	"context"
	"testing"
	"time"

	"github.com/r2sync/r2sync/renren/prosodytest"
)

// How an integration test uses the harness: the account under test and a
// watcher share a roster group, the code under test connects to s.Addr()
// as 123456@s.Domain() trusting s.CAPool() (or s.CAFile()), and the
// watcher asserts what status actually reached the server.
func Example() {
	var t *testing.T // the test's *testing.T

	s := prosodytest.Start(t, prosodytest.Options{
		Users: map[string]string{"123456": "secret", "watcher": "w"},
		Group: []string{"123456", "watcher"},
	})
	w := s.Watch(t, "watcher", "w")

	// ... run the code under test against s.Addr(), s.Domain(), s.CAPool() ...

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := w.WaitStatuses(ctx, s.JID("123456"), 1)
	if err != nil {
		t.Fatal(err)
	}
	_ = got[0].Text
}
