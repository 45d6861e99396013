package renren

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
)

// tlsConfig verifies the server certificate against ServerName itself, or
// against the pinned key.
//
// gosrc.io/xmpp checks VerifyHostname(JID domain) after the handshake in
// addition to Go's own check, so a certificate for another ServerName
// could never pass, and it formats TLS errors with %s, which loses their
// type. Doing the standard chain and name verification in VerifyConnection
// honours ServerName and keeps the x509 error for the caller. Verification
// is never skipped: InsecureSkipVerify only hands it to VerifyConnection,
// which crypto/tls calls on every handshake. The name is ServerName (the
// JID domain by default) whatever address was dialed, so an SRV record or
// a redirect cannot make a certificate for its own target acceptable.
func (c config) tlsConfig(record func(error)) *tls.Config {
	roots, name, pin := c.roots, c.serverName, c.pin
	return &tls.Config{
		ServerName:         name,
		MinVersion:         c.tlsMin,
		MaxVersion:         c.tlsMax,
		InsecureSkipVerify: true, // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			var err error
			if pin != nil {
				err = verifyPin(cs, pin)
			} else {
				err = verifyChain(cs, roots, name)
			}
			if err != nil {
				record(err)
			}
			return err
		},
	}
}

func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, cert := range cs.PeerCertificates[1:] {
		inter.AddCert(cert)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         roots, // nil: system roots
		Intermediates: inter,
		DNSName:       name,
	})
	return err
}

// PinError is a server key that does not match TLSPin.
type PinError struct {
	Got string // the server's pin, "sha256/BASE64"
}

func (e *PinError) Error() string {
	return "server key " + e.Got + " does not match the pinned key (renren.tls_pin)"
}

// verifyPin accepts the leaf certificate whose key has the pinned digest.
// Only the key counts: a self-signed certificate may name anything and
// expire, and a pin is a stronger check than a name.
func verifyPin(cs tls.ConnectionState, pin []byte) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	sum := sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
	if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
		return &PinError{Got: Pin(cs.PeerCertificates[0])}
	}
	return nil
}

// Pin returns the TLSPin that accepts cert's key.
func Pin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}

// tlsVersionName names a TLS version for logs.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	}
	return fmt.Sprintf("%#x", v)
}
