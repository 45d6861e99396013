// Package shard assigns mirrors to the shards of a deployment by
// rendezvous (highest random weight) hashing of the mirror's name: each
// shard scores every name, the highest score owns it. Every mirror lands
// on exactly one shard, a shard needs nothing but the names to know its
// own, and going from N to N+1 shards moves only the mirrors the new shard
// wins, about 1/(N+1) of them.
//
// The score is part of the deployment contract: a release that changed it
// would move mirrors between running shards. It is pinned by a golden
// test and must never change.
package shard

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxCount bounds the number of shards; more is a typo, not a deployment.
const MaxCount = 1024

// Shard is shard Index (from 0) of Count.
type Shard struct {
	Index, Count int
}

// String renders s as Parse reads it: "I/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Owns reports whether name is assigned to s.
func (s Shard) Owns(name string) bool { return Of(name, s.Count) == s.Index }

// Of returns the shard (0 … n-1) that owns name among n shards; n < 2
// means a single shard, 0.
func Of(name string, n int) int {
	best, bestScore := 0, uint64(0)
	for i := range n {
		if sc := Score(name, i); i == 0 || sc > bestScore {
			best, bestScore = i, sc
		}
	}
	return best
}

// Score is shard i's rendezvous weight for name: FNV-1a 64 over the name,
// a 0 byte and i in decimal, finished by MurmurHash3's 64-bit mixer
// (FNV alone spreads names that differ only in their last bytes poorly).
func Score(name string, i int) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	add := func(s string) {
		for j := 0; j < len(s); j++ {
			h ^= uint64(s[j])
			h *= prime
		}
	}
	add(name)
	add("\x00")
	add(strconv.Itoa(i))
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Parse reads a shard spec:
//
//	"I/N"       shard I of N, e.g. "2/4"
//	"NAME-I/N"  a StatefulSet pod name with the count, e.g. "r2sync-2/4"
//	"NAME-I"    a pod name alone, e.g. "r2sync-2"; count gives N
//
// count is the shard count given apart (--shard-count, R2SYNC_SHARDS), 0
// when none was; with an "/N" it must agree. Indexes count from 0, as a
// StatefulSet's ordinals do.
func Parse(spec string, count int) (Shard, error) {
	if spec == "" {
		return Shard{}, errors.New("empty shard: want I/N, NAME-I/N or NAME-I")
	}
	idx, n := spec, count
	if i := strings.LastIndexByte(spec, '/'); i >= 0 {
		v, err := strconv.Atoi(spec[i+1:])
		if err != nil || v < 1 {
			return Shard{}, fmt.Errorf("shard %q: the count after / must be a whole number ≥ 1", spec)
		}
		if count != 0 && count != v {
			return Shard{}, fmt.Errorf("shard %q: count %d disagrees with the shard count %d", spec, v, count)
		}
		idx, n = spec[:i], v
	}
	if j := strings.LastIndexByte(idx, '-'); j > 0 {
		idx = idx[j+1:] // a pod name: its ordinal
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || strings.HasPrefix(idx, "+") {
		return Shard{}, fmt.Errorf("shard %q: want I/N, NAME-I/N or NAME-I with I a whole number ≥ 0", spec)
	}
	switch {
	case n == 0:
		return Shard{}, fmt.Errorf("shard %q: no shard count: write %s/N or set the shard count", spec, spec)
	case n < 0 || n > MaxCount:
		return Shard{}, fmt.Errorf("shard %q: count must be from 1 to %d (got %d)", spec, MaxCount, n)
	case i >= n:
		return Shard{}, fmt.Errorf("shard %q: index %d is not below the count %d (indexes start at 0)", spec, i, n)
	}
	return Shard{Index: i, Count: n}, nil
}
