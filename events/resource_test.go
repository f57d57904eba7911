package events

import (
	"errors"
	"strings"
	"testing"
)

// wantFieldError checks that err is a *FieldError on field whose reason contains reason.
func wantFieldError(t *testing.T, err error, field, reason string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want a *FieldError on %s", err, err, field)
	}
	if fe.Field != field || !strings.Contains(fe.Reason, reason) {
		t.Errorf("FieldError{Field: %q, Reason: %q}, want field %q and a reason containing %q", fe.Field, fe.Reason, field, reason)
	}
	if !strings.HasPrefix(err.Error(), "invalid "+field+" ") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestParseResource(t *testing.T) {
	owner39 := strings.Repeat("o", 39)
	repo100 := strings.Repeat("r", 100)
	cases := []struct {
		url    string
		want   Resource // accepted when reason == ""
		reason string   // rejected: a *FieldError on "url" with this in its reason
	}{
		{url: "https://github.com/octo-org/hello-world/pull/7", want: Resource{"octo-org", "hello-world", 7, "https://github.com/octo-org/hello-world/pull/7"}},
		{url: "https://github.com/o/r/pull/1", want: Resource{"o", "r", 1, "https://github.com/o/r/pull/1"}},
		{url: "https://ghe.example.com/team/svc/pull/12345", want: Resource{"team", "svc", 12345, "https://ghe.example.com/team/svc/pull/12345"}},
		{url: "https://ghe.example.com:8443/team/svc/pull/3", want: Resource{"team", "svc", 3, "https://ghe.example.com:8443/team/svc/pull/3"}},
		{url: "https://github.com/" + owner39 + "/r/pull/1", want: Resource{owner39, "r", 1, "https://github.com/" + owner39 + "/r/pull/1"}},
		{url: "https://github.com/o/" + repo100 + "/pull/1", want: Resource{"o", repo100, 1, "https://github.com/o/" + repo100 + "/pull/1"}},
		{url: "https://github.com/Octo-Org/Hello.World_2-x/pull/10", want: Resource{"Octo-Org", "Hello.World_2-x", 10, "https://github.com/Octo-Org/Hello.World_2-x/pull/10"}},
		{url: "https://github.com/o/.github/pull/1", want: Resource{"o", ".github", 1, "https://github.com/o/.github/pull/1"}},
		{url: "https://github.com/o/.../pull/1", want: Resource{"o", "...", 1, "https://github.com/o/.../pull/1"}},

		{url: "", reason: "is empty"},
		{url: "http://github.com/o/r/pull/1", reason: "must use https"},
		{url: "HTTPS://github.com/o/r/pull/1", reason: "must use https"},
		{url: "ftp://github.com/o/r/pull/1", reason: "must use https"},
		{url: "github.com/o/r/pull/1", reason: "must use https"},
		{url: "//github.com/o/r/pull/1", reason: "must use https"},
		{url: "https:github.com/o/r/pull/1", reason: "must use https"},
		{url: "https:///o/r/pull/1", reason: "has no host"},
		{url: "https://:443/o/r/pull/1", reason: "has no host"},
		{url: "https://user:pw@github.com/o/r/pull/1", reason: "user information"},
		{url: "https://github.com/o/r/pull/1?diff=split", reason: "query or fragment"},
		{url: "https://github.com/o/r/pull/1?", reason: "query or fragment"},
		{url: "https://github.com/o/r/pull/1#issuecomment-1", reason: "query or fragment"},
		{url: "https://github.com/o/r/pull/1#", reason: "query or fragment"},
		{url: "https://github.com/o/%2e%2e/pull/1", reason: "escaped"},
		{url: "https://github.com/o/r/pull/%31", reason: "escaped"},
		{url: "https://github.com/o%2Fx/r/pull/1", reason: "escaped"},
		{url: "https://github.com/o/r/pulls/1", reason: "is not https://<host>/<owner>/<repo>/pull/<number>"},
		{url: "https://github.com/o/r/issues/1", reason: "is not https://"},
		{url: "https://github.com/o/r/pull/1/", reason: "is not https://"},
		{url: "https://github.com/o/r/pull/1/files", reason: "is not https://"},
		{url: "https://github.com/o/r/pull", reason: "is not https://"},
		{url: "https://github.com//o/r/pull/1", reason: "is not https://"},
		{url: "https://api.github.com/repos/o/r/pulls/1", reason: "is not https://"},
		{url: "https://github.com/o/r/pull/0", reason: "positive integer"},
		{url: "https://github.com/o/r/pull/07", reason: "positive integer"},
		{url: "https://github.com/o/r/pull/-7", reason: "positive integer"},
		{url: "https://github.com/o/r/pull/+7", reason: "positive integer"},
		{url: "https://github.com/o/r/pull/1e3", reason: "positive integer"},
		{url: "https://github.com/o/r/pull/99999999999999999999", reason: "positive integer"},
		{url: "https://github.com/o/r/pull/", reason: "positive integer"},
		{url: "https://github.com/" + owner39 + "o/r/pull/1", reason: "owner: is longer than 39"},
		{url: "https://github.com/-o/r/pull/1", reason: "owner: starts with a hyphen"},
		{url: "https://github.com/o_o/r/pull/1", reason: "owner: has '_'"},
		{url: "https://github.com/o/" + repo100 + "r/pull/1", reason: "repo: is longer than 100"},
		{url: "https://github.com/o/./pull/1", reason: "repo: is a path element"},
		{url: "https://github.com/o/../pull/1", reason: "repo: is a path element"},
		{url: "https://github.com/../r/pull/1", reason: "owner:"},
		{url: "https://github.com/o/r r/pull/1", reason: "escaped"},
		{url: "https://github.com/o/r/pull/1\n", reason: "is not a URL"},
		{url: "https://gith%75b.com/o/r/pull/1", reason: "is not a URL"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			r, err := ParseResource(tc.url)
			if tc.reason != "" {
				if r != nil {
					t.Errorf("ParseResource = %+v, want nil with the error", r)
				}
				wantFieldError(t, err, "url", tc.reason)
				return
			}
			if err != nil {
				t.Fatalf("ParseResource: %v", err)
			}
			if *r != tc.want {
				t.Errorf("ParseResource = %+v, want %+v", *r, tc.want)
			}
			if err := r.Validate(); err != nil {
				t.Errorf("parsed resource does not validate: %v", err)
			}
		})
	}
}

func TestResourceValidate(t *testing.T) {
	const u = "https://github.com/octo-org/hello-world/pull/7"
	cases := []struct {
		name       string
		r          Resource
		wantNumber int
		field      string // "" = valid
		reason     string
	}{
		{name: "valid", r: Resource{"octo-org", "hello-world", 7, u}, wantNumber: 7},
		{name: "number from the URL", r: Resource{"octo-org", "hello-world", 0, u}, wantNumber: 7},
		{name: "owner case-insensitive", r: Resource{"OCTO-ORG", "hello-world", 7, u}, wantNumber: 7},
		{name: "repo case-insensitive", r: Resource{"octo-org", "Hello-World", 7, u}, wantNumber: 7},
		{name: "enterprise", r: Resource{"octo-org", "hello-world", 7, "https://ghe.example.com/octo-org/hello-world/pull/7"}, wantNumber: 7},
		{name: "number mismatch", r: Resource{"octo-org", "hello-world", 8, u}, field: "number", reason: "does not match the URL's pull request 7"},
		{name: "negative number", r: Resource{"octo-org", "hello-world", -7, u}, field: "number", reason: "does not match"},
		{name: "owner mismatch", r: Resource{"other", "hello-world", 7, u}, field: "url", reason: "names octo-org/hello-world, not other/hello-world"},
		{name: "repo mismatch", r: Resource{"octo-org", "hello", 7, u}, field: "url", reason: "not octo-org/hello"},
		{name: "bad owner before URL", r: Resource{"octo/org", "hello-world", 7, u}, field: "owner", reason: "only letters"},
		{name: "bad repo", r: Resource{"octo-org", "..", 7, u}, field: "repo", reason: "path element"},
		{name: "empty URL", r: Resource{"octo-org", "hello-world", 7, ""}, field: "url", reason: "is empty"},
		{name: "http URL", r: Resource{"octo-org", "hello-world", 7, "http://github.com/octo-org/hello-world/pull/7"}, field: "url", reason: "https"},
		{name: "zero value", r: Resource{}, field: "owner", reason: "is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			err := r.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if r.Number != tc.wantNumber {
					t.Errorf("Number = %d, want %d", r.Number, tc.wantNumber)
				}
				return
			}
			wantFieldError(t, err, tc.field, tc.reason)
		})
	}
	var nilResource *Resource
	wantFieldError(t, nilResource.Validate(), "resource", "is nil")
}

func TestValidateOwner(t *testing.T) {
	cases := []struct {
		owner  string
		reason string // "" = valid
	}{
		{"a", ""}, {"octo-org", ""}, {"Octocat", ""}, {"a-b-c", ""}, {"a--b", ""}, {"a-", ""}, {"123", ""},
		{strings.Repeat("a", 39), ""},
		{strings.Repeat("a", 40), "is longer than 39 characters"},
		{"", "is empty"},
		{"-a", "starts with a hyphen"},
		{"a_b", "has '_' at byte 1"},
		{"a.b", "has '.'"},
		{"a/b", "has '/'"},
		{"..", "has '.'"},
		{"a b", "has ' '"},
		{"é", "only letters, digits and hyphens"},
		{"a\x00", "at byte 1"},
	}
	for _, tc := range cases {
		err := ValidateOwner(tc.owner)
		if tc.reason == "" {
			if err != nil {
				t.Errorf("ValidateOwner(%q) = %v", tc.owner, err)
			}
			continue
		}
		t.Run(tc.owner, func(t *testing.T) { wantFieldError(t, err, "owner", tc.reason) })
	}
}

func TestValidateRepo(t *testing.T) {
	cases := []struct {
		repo   string
		reason string
	}{
		{"r", ""}, {"hello-world", ""}, {"Hello.World", ""}, {"under_score", ""}, {".github", ""}, {"...", ""}, {"a..b", ""}, {"-x", ""},
		{strings.Repeat("r", 100), ""},
		{strings.Repeat("r", 101), "is longer than 100 characters"},
		{"", "is empty"},
		{".", "is a path element"},
		{"..", "is a path element"},
		{"a/b", "has '/' at byte 1"},
		{"../etc", "has '/'"},
		{"a b", "has ' '"},
		{"a%2e", "has '%'"},
		{"ü", "only letters, digits"},
	}
	for _, tc := range cases {
		err := ValidateRepo(tc.repo)
		if tc.reason == "" {
			if err != nil {
				t.Errorf("ValidateRepo(%q) = %v", tc.repo, err)
			}
			continue
		}
		t.Run(tc.repo, func(t *testing.T) { wantFieldError(t, err, "repo", tc.reason) })
	}
}

func TestValidateSHA(t *testing.T) {
	const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	cases := []struct {
		in, want string
		reason   string
	}{
		{in: sha, want: sha},
		{in: strings.ToUpper(sha), want: sha},
		{in: "0000000000000000000000000000000000000000", want: "0000000000000000000000000000000000000000"},
		{in: sha[:39], reason: "has 39 characters; a commit SHA has 40 hex digits"},
		{in: sha + "a", reason: "has 41 characters"},
		{in: "", reason: "has 0 characters"},
		{in: strings.Repeat("a", 64), reason: "has 64 characters"},
		{in: "g" + sha[1:], reason: `has non-hex 'g' at byte 0`},
		{in: sha[:39] + " ", reason: `has non-hex ' ' at byte 39`},
		{in: sha[:38] + "é", reason: "non-hex"},
	}
	for _, tc := range cases {
		got, err := ValidateSHA(tc.in)
		if tc.reason == "" {
			if err != nil || got != tc.want {
				t.Errorf("ValidateSHA(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		if got != "" {
			t.Errorf("ValidateSHA(%q) = %q alongside an error", tc.in, got)
		}
		t.Run(tc.in, func(t *testing.T) { wantFieldError(t, err, "sha", tc.reason) })
	}
}

func TestRequestValidateAndString(t *testing.T) {
	r := Request{Resource: Resource{Owner: "octo-org", Repo: "hello-world", URL: "https://github.com/octo-org/hello-world/pull/7"},
		SHA: "6DCB09B5B57875F334F61AEBED695E2E4193DB5E", Rerun: true}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.SHA != "6dcb09b5b57875f334f61aebed695e2e4193db5e" || r.Resource.Number != 7 {
		t.Errorf("Validate did not normalise: %+v", r)
	}
	if got, want := r.String(), "octo-org/hello-world#7@6dcb09b5b578 (rerun)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := r.Key(), "https://github.com/octo-org/hello-world/pull/7@6dcb09b5b57875f334f61aebed695e2e4193db5e"; got != want {
		t.Errorf("Key() = %q, want %q", got, want)
	}
	r.InstallationID = -1
	wantFieldError(t, r.Validate(), "installationId", "is negative")
	r.InstallationID = 0
	r.SHA = "abc"
	wantFieldError(t, r.Validate(), "sha", "has 3 characters")
}

func TestFieldErrorTruncatesLongValues(t *testing.T) {
	err := ValidateOwner(strings.Repeat("x", 1000))
	if n := len(err.Error()); n > 200 {
		t.Errorf("error is %d bytes long: %q", n, err.Error())
	}
}

func TestValidateIdentity(t *testing.T) {
	for _, tc := range []struct {
		identity, reason string
	}{
		{"diff-hygiene", ""},
		{"My Reconciler (v2)", ""},
		{strings.Repeat("a", 100), ""},
		{"", "is empty"},
		{strings.Repeat("a", 101), "is longer than 100 bytes"},
		{"a<b", "has '<', '>' or a line break"},
		{"a-->b", "has '<', '>' or a line break"},
		{"a\nb", "has '<', '>' or a line break"},
		{"a\rb", "has '<', '>' or a line break"},
	} {
		err := ValidateIdentity(tc.identity)
		if tc.reason == "" {
			if err != nil {
				t.Errorf("ValidateIdentity(%q) = %v", tc.identity, err)
			}
			continue
		}
		wantFieldError(t, err, "identity", tc.reason)
	}
}
