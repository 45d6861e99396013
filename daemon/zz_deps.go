package daemon

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/cenkalti/backoff/v4"
	_ "github.com/dghubble/go-twitter/twitter"
	_ "github.com/dghubble/oauth1"
	_ "github.com/google/renameio/v2"
	_ "github.com/rivo/uniseg"
	_ "go.uber.org/zap"
	_ "gosrc.io/xmpp"
	_ "gosrc.io/xmpp/stanza"
	_ "golang.org/x/sys/unix"
)
