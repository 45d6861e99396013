package renren_test

import (
	"context"
	"fmt"
	"time"

	"github.com/r2sync/r2sync/renren"
	"github.com/r2sync/r2sync/renren/renrentest"
)

// A Conn against the emulated Renren server, as `r2sync demo` wires it.
func ExampleConn() {
	srv, err := renrentest.NewServer(renrentest.Options{
		Users:      map[string]string{"123456": "secret"},
		FeedEvents: true,
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	conn := renren.NewConn(renren.Options{
		JID:      "123456@talk.renren.com", // answered from talk.xiaonei.com
		Password: "secret",
		Address:  srv.Addr(),
		RootCAs:  srv.CAPool(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- conn.Run(runCtx) }()

	if err := conn.SetStatus(ctx, "[r2] 你好 & <hello>"); err != nil {
		panic(err)
	}
	stop()
	if err := <-done; err != nil {
		panic(err)
	}
	for _, st := range srv.Statuses() {
		fmt.Printf("%s: %s\n", st.JID, st.Text)
	}
	// Output: 123456@talk.xiaonei.com/r2sync: [r2] 你好 & <hello>
}
