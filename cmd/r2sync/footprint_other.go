//go:build !linux

package main

import "errors"

// dropStartupPages is Linux only.
func dropStartupPages() (int64, error) { return 0, errors.New("not on this system") }
