package twitter

import (
	"cmp"
	"slices"

	"github.com/r2sync/r2sync/daemon"
)

// gathered collects one poll's posts across timeline pages, v1.1 or v2:
// each post newer than since, once.
type gathered struct {
	since int64
	seen  map[int64]bool
	posts []daemon.Post
}

func newGathered(since int64) *gathered {
	return &gathered{since: since, seen: make(map[int64]bool)}
}

// add takes one page and returns the oldest id on it (0 for an empty
// page) and whether the page reached since, which a server that ignores
// since_id shows by serving older posts.
func (g *gathered) add(page []daemon.Post) (oldest int64, reached bool) {
	for _, p := range page {
		if oldest == 0 || p.ID < oldest {
			oldest = p.ID
		}
		if p.ID <= g.since {
			reached = true
			continue
		}
		if !g.seen[p.ID] {
			g.seen[p.ID] = true
			g.posts = append(g.posts, p)
		}
	}
	return oldest, reached
}

// sorted returns the posts oldest first.
func (g *gathered) sorted() []daemon.Post {
	slices.SortFunc(g.posts, func(a, b daemon.Post) int { return cmp.Compare(a.ID, b.ID) })
	return g.posts
}
