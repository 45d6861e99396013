package renren

// Events hears about the sessions of a Conn, for metrics and health
// checks. Calls come from the Conn's and the library's goroutines and must
// not block.
type Events interface {
	// SessionUp reports that a session logged in and is ready to publish.
	SessionUp()
	// SessionDown reports that the live session ended and why; err is
	// ErrClosed when the Conn closed it at shutdown.
	SessionDown(err error)
	// FeedEvent reports one Renren news-feed notification received.
	FeedEvent()
}

// nopEvents is the Events of Options without one.
type nopEvents struct{}

func (nopEvents) SessionUp()        {}
func (nopEvents) SessionDown(error) {}
func (nopEvents) FeedEvent()        {}
