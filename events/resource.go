// Package events is the vocabulary of prreconciler: the pull request a reconcile is about
// (Resource), the reconcile request itself (Request), and their decoding from Pub/Sub messages.
package events

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Resource identifies a pull request: the repository it belongs to, its number, and its
// canonical URL. The URL is the key the status manager and the logs use for the PR.
type Resource struct {
	// Owner is the login of the user or organisation that owns the repository.
	Owner string `json:"owner"`
	// Repo is the repository name.
	Repo string `json:"repo"`
	// Number is the pull request number, at least 1.
	Number int `json:"number"`
	// URL is the pull request's web URL, https://<host>/<owner>/<repo>/pull/<number>.
	URL string `json:"url"`
}

// FieldError reports an invalid field of a resource or a request: which field, the value
// given and why it was refused.
type FieldError struct {
	Field  string
	Value  string
	Reason string
}

// Error says which field is wrong, its value (cut to 80 bytes) and why.
func (e *FieldError) Error() string {
	v := e.Value
	if len(v) > 80 {
		v = v[:80] + "…"
	}
	return fmt.Sprintf("invalid %s %q: %s", e.Field, v, e.Reason)
}

// ParseResource parses a pull request URL such as https://github.com/octo-org/hello-world/pull/7
// into a validated Resource. GitHub Enterprise hosts are accepted; the scheme must be https.
func ParseResource(prURL string) (*Resource, error) {
	owner, repo, number, err := splitPRURL(prURL)
	if err != nil {
		return nil, err
	}
	r := &Resource{Owner: owner, Repo: repo, Number: number, URL: prURL}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// Validate checks every field against GitHub's rules: owner is a login, repo a repository
// name, and URL a pull request URL naming the same owner, repository and number. It returns
// a *FieldError naming the first field that is wrong.
func (r *Resource) Validate() error {
	if r == nil {
		return &FieldError{Field: "resource", Reason: "is nil"}
	}
	if err := ValidateOwner(r.Owner); err != nil {
		return err
	}
	if err := ValidateRepo(r.Repo); err != nil {
		return err
	}
	owner, repo, number, err := splitPRURL(r.URL)
	if err != nil {
		return err
	}
	if !strings.EqualFold(owner, r.Owner) || !strings.EqualFold(repo, r.Repo) {
		return &FieldError{Field: "url", Value: r.URL,
			Reason: fmt.Sprintf("names %s/%s, not %s/%s", owner, repo, r.Owner, r.Repo)}
	}
	if r.Number != 0 && r.Number != number {
		return &FieldError{Field: "number", Value: strconv.Itoa(r.Number),
			Reason: fmt.Sprintf("does not match the URL's pull request %d", number)}
	}
	if r.Number == 0 {
		r.Number = number
	}
	return nil
}

// String returns owner/repo#number, the short form people use.
func (r *Resource) String() string {
	return fmt.Sprintf("%s/%s#%d", r.Owner, r.Repo, r.Number)
}

// ValidateOwner checks a GitHub login: 1 to 39 ASCII letters, digits or hyphens, not starting
// with a hyphen.
func ValidateOwner(owner string) error {
	switch {
	case owner == "":
		return &FieldError{Field: "owner", Reason: "is empty"}
	case len(owner) > 39:
		return &FieldError{Field: "owner", Value: owner, Reason: "is longer than 39 characters"}
	case owner[0] == '-':
		return &FieldError{Field: "owner", Value: owner, Reason: "starts with a hyphen"}
	}
	for i := 0; i < len(owner); i++ {
		if c := owner[i]; !isAlnum(c) && c != '-' {
			return &FieldError{Field: "owner", Value: owner,
				Reason: fmt.Sprintf("has %q at byte %d; only letters, digits and hyphens are allowed", c, i)}
		}
	}
	return nil
}

// ValidateRepo checks a repository name: 1 to 100 ASCII letters, digits, '.', '_' or '-',
// and not "." or "..".
func ValidateRepo(repo string) error {
	switch {
	case repo == "":
		return &FieldError{Field: "repo", Reason: "is empty"}
	case len(repo) > 100:
		return &FieldError{Field: "repo", Value: repo, Reason: "is longer than 100 characters"}
	case repo == "." || repo == "..":
		return &FieldError{Field: "repo", Value: repo, Reason: "is a path element, not a repository name"}
	}
	for i := 0; i < len(repo); i++ {
		if c := repo[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return &FieldError{Field: "repo", Value: repo,
				Reason: fmt.Sprintf("has %q at byte %d; only letters, digits, '.', '_' and '-' are allowed", c, i)}
		}
	}
	return nil
}

// ValidateSHA checks a commit SHA (40 hex digits) and returns it in lower case.
func ValidateSHA(sha string) (string, error) {
	if len(sha) != 40 {
		return "", &FieldError{Field: "sha", Value: sha,
			Reason: fmt.Sprintf("has %d characters; a commit SHA has 40 hex digits", len(sha))}
	}
	for i := 0; i < len(sha); i++ {
		c := sha[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", &FieldError{Field: "sha", Value: sha, Reason: fmt.Sprintf("has non-hex %q at byte %d", c, i)}
		}
	}
	return strings.ToLower(sha), nil
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// splitPRURL takes https://<host>/<owner>/<repo>/pull/<n> apart, validating each piece.
func splitPRURL(raw string) (owner, repo string, number int, err error) {
	bad := func(reason string) (string, string, int, error) {
		return "", "", 0, &FieldError{Field: "url", Value: raw, Reason: reason}
	}
	if raw == "" {
		return bad("is empty")
	}
	u, perr := url.Parse(raw)
	if perr != nil {
		return bad("is not a URL")
	}
	switch {
	case u.Scheme != "https" || !strings.HasPrefix(raw, "https://"):
		return bad("must use https")
	case u.Host == "" || u.Hostname() == "":
		return bad("has no host")
	case u.User != nil:
		return bad("must not carry user information")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" || strings.ContainsAny(raw, "?#"):
		return bad("must not have a query or fragment")
	case u.RawPath != "":
		return bad("must not have escaped characters in its path")
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 4 || parts[2] != "pull" {
		return bad("is not https://<host>/<owner>/<repo>/pull/<number>")
	}
	if err := ValidateOwner(parts[0]); err != nil {
		return bad("owner: " + err.(*FieldError).Reason)
	}
	if err := ValidateRepo(parts[1]); err != nil {
		return bad("repo: " + err.(*FieldError).Reason)
	}
	n, cerr := strconv.Atoi(parts[3])
	if cerr != nil || n < 1 || parts[3][0] == '0' || parts[3][0] == '+' {
		return bad("pull request number must be a positive integer")
	}
	return parts[0], parts[1], n, nil
}
