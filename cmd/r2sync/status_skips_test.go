package main

import "testing"

func TestSkipCounts(t *testing.T) {
	body := `# HELP r2sync_posts_skipped_total New posts not mirrored, by reason.
r2sync_posts_skipped_total{mirror="alice",reason="reply"} 0
r2sync_posts_skipped_total{mirror="alice",reason="skip_tags"} 3
r2sync_posts_skipped_total{mirror="alice",reason="posted by r2sync post"} 1
r2sync_posts_skipped_total{mirror="b\"ob",reason="only_pattern"} 2
r2sync_posts_skipped_total{mirror="alice",reason="repost"} 1
r2sync_posts_seen_total{mirror="alice"} 9
r2sync_posts_skipped_total{mirror="alice",reason="broken"} x
`
	got := skipCounts(body)
	if s := describeSkips(got["alice"]); s != "3 skip_tags, 1 posted by r2sync post, 1 repost" {
		t.Errorf("alice: %q", s)
	}
	if s := describeSkips(got[`b"ob`]); s != "2 only_pattern" {
		t.Errorf(`b"ob: %q (all %v)`, s, got)
	}
	if s := describeSkips(got["carol"]); s != "none" {
		t.Errorf("carol: %q", s)
	}
}
