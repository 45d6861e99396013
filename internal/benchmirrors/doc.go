// Package benchmirrors holds the benchmark of many mirrors in one
// process (issue 9): memory and goroutines per added mirror and CPU per
// idle poll, against in-process test servers. It has no code of its own
// outside the test.
package benchmirrors
