package renren

import (
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"gosrc.io/xmpp"
	"gosrc.io/xmpp/stanza"
)

// What renren does around gosrc.io/xmpp v0.5.1, without patching it:
//
//   - Its own xmpp.Transport (transport.go) goes into the Client with
//     reflect and unsafe (useTransport): the field is unexported.
//   - The login up to SASL success is renren's own: the library knows
//     neither direct TLS nor any SASL mechanism but PLAIN. The transport
//     runs it inside Connect (negotiate.go), then shows the library the
//     stream it expects after a TLS handshake (features offering PLAIN)
//     and the <success/> to its PLAIN <auth/>, which the transport
//     swallows: the library only ever holds a placeholder password. Its
//     next StartStream is the real restart after SASL, and from there on
//     (binding, the session, stanzas) the library runs the real stream.
//   - The library's initial "<presence/>" is replaced on its way out by
//     one with the configured priority and show (presence.go).
//   - It drops the host of a <see-other-host/>: the transport keeps the
//     last bytes read and decodes the stream error again (redirect.go).
//   - It routes each stanza on a goroutine of its own: an <xfeed/> takes
//     a ticket while it is decoded, through a map from the transport's
//     decoders to their session (feedseq.go), to restore stream order.

// libraryPassword is the password gosrc.io/xmpp is given: it insists on
// one, but renren logs in itself (negotiate.go) and the library's PLAIN
// <auth/> never leaves the process.
const libraryPassword = "unused"

// libraryStream is what the library reads after Connect: features
// offering PLAIN, then the <success/> answering its <auth/>.
const libraryStream = "<stream:stream xmlns='" + stanza.NSClient + "' xmlns:stream='" + nsStream + "' version='1.0'>" +
	"<stream:features><mechanisms xmlns='" + nsSASL + "'><mechanism>PLAIN</mechanism></mechanisms></stream:features>" +
	"<success xmlns='" + nsSASL + "'/>"

// showLibrary replaces the decoder with the stream gosrc.io/xmpp expects
// after its STARTTLS step and makes the transport swallow what the
// library writes until its StartStream: its PLAIN <auth/>.
func (t *transport) showLibrary() {
	dec := xml.NewDecoder(strings.NewReader(libraryStream))
	_, _ = stanza.InitStream(dec) // a constant that parses
	t.mu.Lock()
	t.dec, t.swallow = dec, true
	t.mu.Unlock()
}

// useTransport puts t into c in place of the XMPPTransport that
// xmpp.NewClient made. gosrc.io/xmpp v0.5.1 offers no other way: the
// Client's transport is an unexported field, set only in NewClient, and
// read by Connect, Send and Disconnect. TestUseTransport fails when a
// library upgrade moves it; this returns an error rather than guessing.
func useTransport(c *xmpp.Client, t xmpp.Transport) error {
	want := reflect.TypeFor[xmpp.Transport]()
	f := reflect.ValueOf(c).Elem().FieldByName("transport")
	if !f.IsValid() || f.Type() != want {
		return errors.New("gosrc.io/xmpp.Client has no field transport of type xmpp.Transport: the library changed")
	}
	field := reflect.NewAt(want, unsafe.Pointer(f.UnsafeAddr())).Elem()
	if _, ok := field.Interface().(*xmpp.XMPPTransport); !ok {
		return fmt.Errorf("gosrc.io/xmpp.NewClient made a %T, want *xmpp.XMPPTransport: the library changed", field.Interface())
	}
	field.Set(reflect.ValueOf(t))
	return nil
}
