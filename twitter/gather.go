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
	posts []tweetPost
}

// tweetPost is a converted tweet with its id as a number, for ordering.
type tweetPost struct {
	id   int64
	post daemon.Post
}

func newGathered(since int64) *gathered {
	return &gathered{since: since, seen: make(map[int64]bool)}
}

// add takes one page and returns the oldest id on it (0 for an empty
// page) and whether the page reached since, which a server that ignores
// since_id shows by serving older posts.
func (g *gathered) add(page []tweetPost) (oldest int64, reached bool) {
	for _, p := range page {
		if oldest == 0 || p.id < oldest {
			oldest = p.id
		}
		if p.id <= g.since {
			reached = true
			continue
		}
		if !g.seen[p.id] {
			g.seen[p.id] = true
			g.posts = append(g.posts, p)
		}
	}
	return oldest, reached
}

// sorted returns the posts oldest first.
func (g *gathered) sorted() []daemon.Post {
	slices.SortFunc(g.posts, func(a, b tweetPost) int { return cmp.Compare(a.id, b.id) })
	out := make([]daemon.Post, len(g.posts))
	for i, p := range g.posts {
		out[i] = p.post
	}
	return out
}
