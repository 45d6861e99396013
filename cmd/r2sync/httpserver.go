package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
)

// shutdownTimeout bounds the wait for scrapes in progress at shutdown.
const shutdownTimeout = 2 * time.Second

// httpServer serves the health and metrics endpoints of [http] listen.
type httpServer struct {
	ln  net.Listener
	srv *http.Server
	log *zap.Logger
}

// newHTTPServer binds c.Listen, so that a taken port fails the start. It
// returns nil when [http] listen is not set. With an http.token_file every
// request but the probes needs the token.
func newHTTPServer(c config.HTTP, h http.Handler, log *zap.Logger) (*httpServer, error) {
	if c.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		err = fmt.Errorf("http.listen: %w", err)
		// An address this machine does not have, or may not bind, is
		// the config's fault: restarting would only fail again. A port
		// in use may be freed.
		var dns *net.DNSError
		if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EACCES) || (errors.As(err, &dns) && dns.IsNotFound) {
			return nil, configError(err)
		}
		return nil, err
	}
	log = log.Named("http")
	if c.Token != "" {
		h = requireToken(c.Token.Value(), h)
	}
	return &httpServer{
		ln:  ln,
		log: log,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    8 << 10,
			ErrorLog:          zap.NewStdLog(log),
		},
	}, nil
}

// Addr is the address actually bound.
func (s *httpServer) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then shuts down within shutdownTimeout.
func (s *httpServer) Run(ctx context.Context) error {
	s.log.Info("serving health and metrics", zap.Stringer("addr", s.ln.Addr()))
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(s.ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		_ = s.srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}
