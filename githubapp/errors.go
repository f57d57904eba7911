package githubapp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

// IsTransient reports whether an error from GitHub is worth retrying later. These are
// transient:
//
//   - a reconcile not admitted (*BudgetError);
//   - 5xx, 408 and 429 answers, and 202 Accepted (GitHub is still computing);
//   - primary and secondary rate limits, including a 403 whose message says
//     "secondary rate limit";
//   - context deadlines and cancellations: the work was cut short, not refused;
//   - timeouts, refused, reset and closed connections, and DNS failures;
//   - an installation token fetch that failed in one of these ways.
//
// Other 4xx answers, certificate errors, errors it does not know, and nil are not.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var be *BudgetError
	if errors.As(err, &be) {
		return true
	}
	var rle *github.RateLimitError
	var are *github.AbuseRateLimitError
	var acc *github.AcceptedError
	if errors.As(err, &rle) || errors.As(err, &are) || errors.As(err, &acc) {
		return true
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		if er.Response == nil {
			return false
		}
		return transientStatus(er.Response.StatusCode, er.Response.Header, er.Message)
	}
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) {
		if he.Response != nil {
			return transientStatus(he.Response.StatusCode, he.Response.Header, "")
		}
		return he.RootCause != nil && IsTransient(he.RootCause)
	}
	// Certificate problems do not heal by waiting.
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	var dnse *net.DNSError
	if errors.As(err, &oe) || errors.As(err, &dnse) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed)
}

func transientStatus(code int, h http.Header, message string) bool {
	switch {
	case code >= 500, code == http.StatusTooManyRequests, code == http.StatusRequestTimeout:
		return true
	case code == http.StatusForbidden:
		// Rate limits that go-github v60 did not map to its own types.
		return h.Get("X-RateLimit-Remaining") == "0" ||
			strings.Contains(strings.ToLower(message), "secondary rate limit")
	}
	return false
}
