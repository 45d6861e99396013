//go:build !race

package renren

const raceEnabled = false
