package mastodon

import "testing"

func TestPlainText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"paragraphs and breaks", "<p>one<br />two</p><p>three</p>", "one\ntwo\n\nthree"},
		{"entities unescaped once", "<p>a &amp; b &lt;c&gt; &amp;lt; &#39;q&#39; &quot;d&quot;</p>", `a & b <c> &lt; 'q' "d"`},
		{"long link shows its full href",
			`<p>see <a href="https://example.com/a/very/long/path/that/goes/on?x=1&amp;y=2" rel="nofollow noopener" target="_blank"><span class="invisible">https://</span><span class="ellipsis">example.com/a/very/long/path/t</span><span class="invisible">hat/goes/on?x=1&amp;y=2</span></a>.</p>`,
			"see https://example.com/a/very/long/path/that/goes/on?x=1&y=2."},
		{"short link", `<p><a href="https://x.org/"><span class="invisible">https://</span><span class="">x.org/</span><span class="invisible"></span></a></p>`, "https://x.org/"},
		{"hashtag keeps its text", `<p><a href="https://m.example/tags/go" class="mention hashtag" rel="tag">#<span>Go</span></a> rocks</p>`, "#Go rocks"},
		{"mention keeps its text", `<p><span class="h-card" translate="no"><a href="https://m.example/@bob" class="u-url mention">@<span>bob</span></a></span> hi</p>`, "@bob hi"},
		{"remote hashtag with rel only", `<a href="https://r.example/tag/x" rel="tag">#x</a>`, "#x"},
		{"CJK and emoji before a link", `<p>日本語😀 <a href="https://example.com/日本"><span class="invisible">https://</span><span class="">example.com/日本</span></a></p>`, "日本語😀 https://example.com/日本"},
		{"nested anchors do not leak", `<a href="https://a.example/"><a href="https://b.example/">x</a>y</a>z`, "https://a.example/z"},
		{"broken html", `<p>cut <a href="https://a.example/`, "cut"},
		{"empty", "", ""},
		{"plain text", "no markup", "no markup"},
		{"list items", "<ul><li>a</li><li>b</li></ul>", "a\n\nb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := plainText(tc.in); got != tc.want {
				t.Errorf("plainText(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzPlainText(f *testing.F) {
	f.Add(`<p>a<br/>b <a href="https://x"><span class="invisible">https://</span>x</a></p>`)
	f.Fuzz(func(t *testing.T, s string) {
		plainText(s) // must not panic
	})
}
