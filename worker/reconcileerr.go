package worker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/githubapp"
	"github.com/prreconciler/prreconciler/statusmanager"
)

// reconcileError marks an error the reconciler returned as IsTransient classifies it, so that
// what happens to the message is decided once.
func reconcileError(err error) error {
	var c *classified
	if errors.As(err, &c) {
		return err
	}
	if IsTransient(err) {
		return Transient(err)
	}
	return Permanent(err)
}

// knownPermanent reports whether err is a failure that retrying cannot change.
func knownPermanent(err error) bool {
	if errors.Is(err, statusmanager.ErrInvalidStatus) || errors.Is(err, statusmanager.ErrStatusTooLarge) {
		return true
	}
	if githubapp.IsTransient(err) {
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
