//go:build !linux

package main

import "errors"

// dropStartupPages is Linux only.
func dropStartupPages() (dropped, error) { return dropped{}, errors.New("not on this system") }
