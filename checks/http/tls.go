package httpcheck

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vigilhq/vigil/checks"
)

// TLS checks the certificate an https endpoint presents, and names the CAs
// to trust instead of the system's.
type TLS struct {
	// MinDaysLeft warns when a certificate of the verified chain expires
	// in fewer days than this; ErrorDaysLeft fails. Either may be 0 (off).
	MinDaysLeft   int `yaml:"min_days_left"`
	ErrorDaysLeft int `yaml:"error_days_left"`
	// CAFile is a PEM file of CA certificates (relative to the config):
	// only they are trusted, as curl --cacert does, for an endpoint behind
	// a private CA.
	CAFile string `yaml:"ca_file"`
}

const day = 24 * time.Hour

// problems validates the tls section and reads its CA file; it returns the
// pool of the file's CAs (nil without ca_file).
func (t *TLS) problems(env checks.SpecEnv, https bool) (*x509.CertPool, []checks.Problem) {
	var ps []checks.Problem
	if !https {
		ps = append(ps, checks.Problem{Field: "tls", Msg: "tls needs an https:// url"})
	}
	if t.MinDaysLeft < 0 {
		ps = append(ps, checks.Problem{Field: "tls.min_days_left", Msg: fmt.Sprintf("min_days_left must not be negative, got %d", t.MinDaysLeft)})
	}
	if t.ErrorDaysLeft < 0 {
		ps = append(ps, checks.Problem{Field: "tls.error_days_left", Msg: fmt.Sprintf("error_days_left must not be negative, got %d", t.ErrorDaysLeft)})
	}
	if t.MinDaysLeft > 0 && t.ErrorDaysLeft > t.MinDaysLeft {
		ps = append(ps, checks.Problem{Field: "tls.error_days_left", Msg: fmt.Sprintf("error_days_left (%d) must not be greater than min_days_left (%d)", t.ErrorDaysLeft, t.MinDaysLeft)})
	}
	if t.MinDaysLeft == 0 && t.ErrorDaysLeft == 0 && t.CAFile == "" {
		ps = append(ps, checks.Problem{Field: "tls", Msg: "tls needs min_days_left, error_days_left or ca_file"})
	}
	if t.CAFile == "" {
		return nil, ps
	}
	pool, err := readCAs(env.BaseDir, t.CAFile)
	if err != nil {
		ps = append(ps, checks.Problem{Field: "tls.ca_file", Msg: err.Error()})
	}
	return pool, ps
}

// readCAs reads a PEM file of CA certificates; the error quotes the path as
// written.
func readCAs(base, path string) (*x509.CertPool, error) {
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(base, full)
	}
	raw, err := os.ReadFile(full)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("ca_file: cannot read %q: %v", path, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for block, rest := pem.Decode(raw); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %q: certificate %d: %v", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("ca_file: %q holds no PEM certificate", path)
	}
	return pool, nil
}

// expiry judges the certificates the server presented: the one of the
// verified chain (leaf, intermediates, root) that expires first, against
// the days left. It returns "" and pass when they are far enough.
func (t *TLS) expiry(state *tls.ConnectionState, now time.Time) (checks.Status, string) {
	if state == nil || (t.MinDaysLeft == 0 && t.ErrorDaysLeft == 0) {
		return checks.Pass, ""
	}
	chain := state.PeerCertificates
	if len(state.VerifiedChains) > 0 {
		chain = state.VerifiedChains[0]
	}
	var first *x509.Certificate
	for _, c := range chain {
		if first == nil || c.NotAfter.Before(first.NotAfter) {
			first = c
		}
	}
	if first == nil {
		return checks.Pass, ""
	}
	left := first.NotAfter.Sub(now)
	status, limit := checks.Pass, ""
	switch {
	case t.ErrorDaysLeft > 0 && left < time.Duration(t.ErrorDaysLeft)*day:
		status, limit = checks.Fail, fmt.Sprintf("error_days_left %d", t.ErrorDaysLeft)
	case t.MinDaysLeft > 0 && left < time.Duration(t.MinDaysLeft)*day:
		status, limit = checks.Warn, fmt.Sprintf("min_days_left %d", t.MinDaysLeft)
	default:
		return checks.Pass, ""
	}
	return status, fmt.Sprintf("certificate %q expires %s, in %s (%s)", certName(first), first.NotAfter.UTC().Format(time.RFC3339), checks.HumanAge(max(left, 0)), limit)
}

// certName names a certificate: its common name, else its first DNS name,
// else its subject.
func certName(c *x509.Certificate) string {
	switch {
	case c.Subject.CommonName != "":
		return c.Subject.CommonName
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	}
	return c.Subject.String()
}
