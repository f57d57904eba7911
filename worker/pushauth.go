package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/api/idtoken"
)

// Validator verifies a Google-signed OIDC token for an audience. idtoken.Validate is the
// production one.
type Validator func(ctx context.Context, token, audience string) (*idtoken.Payload, error)

// checkToken verifies the request's OIDC token. validate checks its signature, audience and
// expiry. Then its issuer must be Google, and it must carry a verified email that is one of
// accounts. It fails closed: with no accounts, no token passes.
func checkToken(r *http.Request, validate Validator, audience string, accounts []string) error {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return errors.New("no bearer token")
	}
	p, err := validate(r.Context(), tok, audience)
	if err != nil {
		return fmt.Errorf("token not valid: %v", err)
	}
	if p.Issuer != "https://accounts.google.com" && p.Issuer != "accounts.google.com" {
		return fmt.Errorf("token issuer %q is not Google", p.Issuer)
	}
	email, _ := p.Claims["email"].(string)
	if verified, _ := p.Claims["email_verified"].(bool); !verified {
		return fmt.Errorf("token email %q is not verified", email)
	}
	for _, a := range accounts {
		if a != "" && strings.EqualFold(email, a) {
			return nil
		}
	}
	return fmt.Errorf("token email %q is not an accepted push service account", email)
}
