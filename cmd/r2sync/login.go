package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/r2sync/r2sync/config"
	"github.com/r2sync/r2sync/daemon/statefile"
	"github.com/r2sync/r2sync/twitter"
)

// loginTimeout bounds the whole login, the user's trip to the browser
// included.
const loginTimeout = 15 * time.Minute

func cmdLogin(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "login", "[--config FILE]",
		"Get an access token for twitter.consumer_key with the OAuth 1.0a PIN flow:\n"+
			"open the printed URL, approve the app, and type the PIN shown. The token and\n"+
			"secret go to twitter.access_token_file and twitter.access_secret_file (mode 0600)\n"+
			"when the config names them; otherwise the TOML lines to paste are printed.")
	cfgPath := configFlag(fs)
	mirror := mirrorFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path := configPath(e, *cfgPath)
	cfg, err := config.LoadForLogin(path)
	if err != nil {
		return configError(err)
	}
	m, err := pickMirror(cfg, path, *mirror)
	if err != nil {
		return err
	}
	if k := m.SourceKind(); k != config.SourceTwitter {
		return usageError("r2sync login is only for X (twitter); this mirror's source is %s, whose credentials go in [%s]", k, k)
	}
	cfg.Twitter = m.Twitter // the mirror's own app and token files
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()

	l, err := twitter.StartLogin(ctx, twitter.LoginOptions{
		API:            cfg.Twitter.API,
		APIBase:        cfg.Twitter.APIBase,
		ConsumerKey:    cfg.Twitter.ConsumerKey.Value(),
		ConsumerSecret: cfg.Twitter.ConsumerSecret.Value(),
		Timeout:        cfg.Twitter.Timeout.Duration,
	})
	if err != nil {
		return fmt.Errorf("%w (check twitter.consumer_key, twitter.consumer_secret and twitter.api_base)", err)
	}
	fmt.Fprintf(e.stdout, "Open this URL in a browser signed in to the account to mirror, and approve the app:\n\n  %s\n\n", l.AuthorizeURL())
	fmt.Fprint(e.stdout, "Then enter the PIN it shows: ")
	pin, err := readLine(ctx, os.Stdin)
	if err != nil {
		return fmt.Errorf("read pin: %w", err)
	}
	creds, err := l.Finish(ctx, pin)
	if err != nil {
		return fmt.Errorf("%w (the PIN is valid once and only for this URL: run r2sync login again)", err)
	}

	// Prove the token before storing it.
	tc := cfg.Twitter
	tc.AccessToken, tc.AccessSecret = config.Secret(creds.AccessToken), config.Secret(creds.AccessSecret)
	tw, err := newTwitter(tc, zap.NewNop(), nil)
	if err != nil {
		return err
	}
	acct, err := verify(ctx, tw)
	if err != nil {
		return fmt.Errorf("the new access token does not work: %w", err)
	}
	fmt.Fprintf(e.stdout, "\nlogged in as @%s (id %s) with api %s at %s\n", acct.Handle, acct.ID, tw.API(), tw.APIBase())

	dir := filepath.Dir(path)
	var paste []string
	for _, s := range []struct{ key, file, value string }{
		{"access_token", cfg.Twitter.AccessTokenFile, creds.AccessToken},
		{"access_secret", cfg.Twitter.AccessSecretFile, creds.AccessSecret},
	} {
		if s.file == "" {
			paste = append(paste, fmt.Sprintf("%s = %q", s.key, s.value))
			continue
		}
		file := config.SecretFile(dir, s.file)
		if err := writeSecret(file, s.value); err != nil {
			return fmt.Errorf("twitter.%s_file: %w", s.key, err)
		}
		fmt.Fprintf(e.stdout, "twitter.%s written to %s (mode 0600)\n", s.key, file)
	}
	if len(paste) > 0 {
		fmt.Fprintf(e.stdout, "\nPut these lines in the [twitter] section of %s, replacing any there\n(or set access_token_file and access_secret_file and run r2sync login again):\n\n%s\n",
			path, strings.Join(paste, "\n"))
	}
	return nil
}

// readLine reads one line from r, or fails when ctx ends first. A
// goroutine blocked on a terminal read is left behind then; the process
// is about to exit.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if errors.Is(err, io.EOF) && strings.TrimSpace(line) != "" {
			err = nil
		}
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case res := <-ch:
		if res.err == nil && res.line == "" {
			res.err = errors.New("empty pin")
		}
		return res.line, res.err
	}
}

// writeSecret replaces file atomically with value, mode 0600, the way the
// state file is written (statefile.WriteFileAtomic).
func writeSecret(file, value string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	return statefile.WriteFileAtomic(file, []byte(value+"\n"), 0o600)
}
