package renrentest

import (
	"fmt"
)

// FeedSamples are <xfeed/> payloads in the shapes a client must keep
// whole: nested elements, CDATA, CJK text with entities, attributes only,
// an empty element, a namespaced child, a comment, and elements named
// like stanza children (<body/>, <message/>) that a careless parser lets
// leak into the message. Renren never published the format; these follow
// what its notifications looked like.
var FeedSamples = []string{
	`<xfeed type='status' fid='1001'><actor id='200000001'>人人小秘书</actor><title>你的好友更新了状态</title><body>今天天气不错 &amp; 心情也不错</body></xfeed>`,
	`<xfeed type='photo' fid='1002'><actor id='200000002'><name>王小明</name><school year='2008'>清华大学</school></actor><album id='77' count='3'><photo id='1' src='http://fmn.rrimg.com/a.jpg'/><photo id='2' src='http://fmn.rrimg.com/b.jpg'/></album></xfeed>`,
	`<xfeed type='blog' fid='1003'><title><![CDATA[<b>我的新日志</b> & more]]></title><summary>前半句<![CDATA[ <i>中间</i> ]]>后半句</summary></xfeed>`,
	`<xfeed type='poke' fid='1004' from='200000003' to='123456' time='1262304000'/>`,
	`<xfeed/>`,
	`<xfeed type='share' fid='1005'><link xmlns='http://renren.com/ns/share' href='http://www.renren.com/share/1?a=1&amp;b=2'>分享链接</link><!-- server note --><message>not a stanza</message></xfeed>`,
	`<xfeed type='status' fid='1006'>  leading and trailing white space  <br/>and a line
break &#x4e2d;&#25991;</xfeed>`,
}

// SendFeed sends a news-feed notification with xfeed (an <xfeed/>
// element, sent as it is) to every bound session, from Renren's feed
// sender, in Renren's shape: an empty <body/> then the payload. It returns
// how many sessions it was written to.
func (s *Server) SendFeed(xfeed string) (int, error) {
	return s.sendMessage(feedFrom, xfeed)
}

// SendFeedFrom is SendFeed from another sender, which a client must not
// take for the news feed.
func (s *Server) SendFeedFrom(from, xfeed string) (int, error) {
	return s.sendMessage(from, xfeed)
}

func (s *Server) sendMessage(from, payload string) (int, error) {
	n := 0
	for _, c := range s.boundConns() {
		if c.ended.Load() {
			continue
		}
		msg := fmt.Sprintf("<message from='%s' to='%s' id='%s'><body/>%s</message>", esc(from), esc(c.jid), newID(), payload)
		if err := c.write(msg); err != nil {
			return n, fmt.Errorf("send feed to %s: %w", c.jid, err)
		}
		n++
	}
	return n, nil
}

// Redirect ends every bound session with a <see-other-host/> stream
// error naming host ("host:port"), as a server that moves its users
// elsewhere in the middle of their sessions does, and closes the
// connections.
func (s *Server) Redirect(host string) {
	for _, c := range s.boundConns() {
		if c.ended.CompareAndSwap(false, true) {
			_ = c.write(fmt.Sprintf("<stream:error><see-other-host xmlns='%s'>%s</see-other-host>"+
				"<text xmlns='%s'>moved</text></stream:error></stream:stream>", nsStreams, esc(host), nsStreams))
			_ = c.raw.Close()
		}
	}
}
