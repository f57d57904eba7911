package githubapp

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

func errResp(code int, header http.Header, msg string) *github.ErrorResponse {
	if header == nil {
		header = http.Header{}
	}
	return &github.ErrorResponse{Response: &http.Response{StatusCode: code, Header: header}, Message: msg}
}

func TestIsTransient(t *testing.T) {
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: "https://api.github.com/x", Err: err} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"500", errResp(500, nil, ""), true},
		{"502", errResp(502, nil, ""), true},
		{"503", errResp(503, nil, ""), true},
		{"504 wrapped", fmt.Errorf("updating: %w", errResp(504, nil, "")), true},
		{"429", errResp(429, nil, ""), true},
		{"408", errResp(408, nil, ""), true},
		{"400", errResp(400, nil, ""), false},
		{"401", errResp(401, nil, "Bad credentials"), false},
		{"403 permission", errResp(403, nil, "Resource not accessible by integration"), false},
		{"403 remaining 0", errResp(403, http.Header{"X-Ratelimit-Remaining": {"0"}}, "API rate limit exceeded"), true},
		{"403 secondary message", errResp(403, nil, "You have exceeded a secondary rate limit."), true},
		{"404", errResp(404, nil, "Not Found"), false},
		{"409", errResp(409, nil, ""), false},
		{"422", errResp(422, nil, "Validation Failed"), false},
		{"ErrorResponse without response", &github.ErrorResponse{}, false},
		{"RateLimitError", &github.RateLimitError{Message: "API rate limit exceeded"}, true},
		{"AbuseRateLimitError", &github.AbuseRateLimitError{Message: "secondary"}, true},
		{"AcceptedError", &github.AcceptedError{}, true},
		{"deadline", context.DeadlineExceeded, true},
		{"deadline in url.Error", urlErr(context.DeadlineExceeded), true},
		{"canceled", context.Canceled, true},
		{"connection refused", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{"connection reset", urlErr(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{"dns", urlErr(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "api.github.com"}}), true},
		{"timeout", urlErr(timeoutErr{}), true},
		{"unexpected EOF", urlErr(io.ErrUnexpectedEOF), true},
		{"EOF", urlErr(io.EOF), true},
		{"certificate", urlErr(x509.UnknownAuthorityError{}), false},
		{"unsupported scheme", urlErr(errors.New(`unsupported protocol scheme "ftp"`)), false},
		{"plain error", errors.New("boom"), false},
		{"ghinstallation 502", &ghinstallation.HTTPError{Message: "non 2xx", Response: &http.Response{StatusCode: 502}}, true},
		{"ghinstallation 500 wrapped", urlErr(fmt.Errorf("could not refresh: %w", &ghinstallation.HTTPError{Response: &http.Response{StatusCode: 500}})), true},
		{"ghinstallation 404", &ghinstallation.HTTPError{Message: "non 2xx", Response: &http.Response{StatusCode: 404}}, false},
		{"ghinstallation 401", &ghinstallation.HTTPError{Response: &http.Response{StatusCode: 401}}, false},
		{"ghinstallation network", &ghinstallation.HTTPError{RootCause: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, true},
		{"ghinstallation no cause", &ghinstallation.HTTPError{}, false},
	}
	for _, tt := range tests {
		if got := IsTransient(tt.err); got != tt.want {
			t.Errorf("%s: IsTransient(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// A real connection failure, as go-github returns it.
func TestIsTransientRealConnectionError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f, err := New(1, testKey(t), Options{BaseURL: "http://" + addr + "/", RetryBudget: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := f.Client(context.Background(), "o", "r", 3)
	_, _, err = c.PullRequests.Get(context.Background(), "o", "r", 1)
	if err == nil || !IsTransient(err) {
		t.Errorf("err = %v, want transient", err)
	}
}
