package worker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/statusmanager"
)

// reconcileError is how an error the reconciler returned is handled. A Transient or
// Permanent mark decides. An unmarked error is permanent only when it is known to be final:
// a GitHub answer that IsTransient does not call transient (404, 401, 403, 422, …), a
// certificate GitHub's host does not pass, a status GitHub would refuse. Anything else (an
// error of another service, of the reconciler's own making) is not known to be final, so it
// is retried, and the run is completed as failed at the last delivery attempt: a passing
// outage never becomes a red check, and nothing is retried forever.
func reconcileError(err error) error {
	var c *classified
	if errors.As(err, &c) {
		return err
	}
	if knownPermanent(err) {
		return Permanent(err)
	}
	return Transient(err)
}

// knownPermanent reports whether err is a failure that retrying cannot change.
func knownPermanent(err error) bool {
	if errors.Is(err, statusmanager.ErrInvalidStatus) || errors.Is(err, statusmanager.ErrStatusTooLarge) {
		return true
	}
	if IsTransient(err) {
		return false
	}
	var er *github.ErrorResponse
	var he *ghinstallation.HTTPError
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	return (errors.As(err, &er) && er.Response != nil) || (errors.As(err, &he) && he.Response != nil) ||
		errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie)
}
