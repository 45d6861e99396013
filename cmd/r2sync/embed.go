package main

// A FROM scratch container has neither CA certificates nor a zone
// database. The fallback roots are used only when the system has none
// (crypto/x509 prefers the system's), and tzdata only when there is no
// /usr/share/zoneinfo: both cost about 700 KB and make the one binary
// work anywhere.
import (
	_ "time/tzdata"

	_ "golang.org/x/crypto/x509roots/fallback"
)
