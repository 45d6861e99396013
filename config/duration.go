package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written in TOML as a string such as "60s".
// A bare integer is rejected: time.Duration would read it as nanoseconds.
type Duration struct {
	time.Duration
}

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("must be a quoted duration such as \"60s\" (got %v; a bare number would mean nanoseconds)", v)
	}
	x, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("must be a duration such as \"60s\" or \"5m\" (got %q)", s)
	}
	d.Duration = x
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
