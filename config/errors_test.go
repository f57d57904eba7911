package config_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
)

// testKey is a PEM RSA key, as GitHub gives an App.
var testKey = func() string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}()

// validEnv is a configuration Load accepts, for tests that change one thing.
func validEnv(extra map[string]string) envconfig.Lookuper {
	m := map[string]string{
		"GITHUB_APP_ID":          "42",
		"GITHUB_APP_PRIVATE_KEY": testKey,
		"IDENTITY":               "diff-hygiene",
	}
	for k, v := range extra {
		m[k] = v
	}
	return envconfig.MapLookuper(m)
}

// Every bad variable is in the one error, named once, in plain words, and blamed on the
// variable the user can change.
func TestLoadNamesEveryProblemOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		want  []string // whole lines of the error, after "config: " on the first
		never []string
	}{
		{"three unparsable", map[string]string{"PORT": "abc", "ACK_DEADLINE": "xyz", "GITHUB_APP_ID": "abc"},
			[]string{
				`GITHUB_APP_ID: "abc" is not a whole number`,
				`PORT: "abc" is not a whole number`,
				`ACK_DEADLINE: "xyz" is not a duration (a number with a unit: 30s, 5m, 1h30m)`,
			}, []string{"strconv", "invalid syntax", "RECONCILE_TIMEOUT", "positive App id", "TCP port"}},
		{"ack deadline too short for any run", map[string]string{"ACK_DEADLINE": "30s"},
			[]string{"ACK_DEADLINE: 30s must be between 2m20s and 10m0s: it holds the reconciler's RECONCILE_TIMEOUT (at least 10s), 2m0s for the final status writes and a 10s margin, and Pub/Sub allows at most 10m0s"},
			[]string{"RECONCILE_TIMEOUT:", "-1m40s"}},
		{"reconcile timeout too long for the ack deadline", map[string]string{"ACK_DEADLINE": "5m"},
			[]string{"RECONCILE_TIMEOUT: 5m0s must be at most 2m50s: ACK_DEADLINE 5m0s less 2m0s for the final status writes and a 10s margin (or raise ACK_DEADLINE, up to 10m0s)"},
			[]string{"ACK_DEADLINE:"}},
		{"too large", map[string]string{"MAX_IN_FLIGHT": "99999999999999999999999"},
			[]string{`MAX_IN_FLIGHT: "99999999999999999999999" is too large`}, nil},
		{"a key that is not one, in one message", map[string]string{"GITHUB_APP_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"},
			[]string{"GITHUB_APP_PRIVATE_KEY: is not a PEM-encoded RSA private key (PKCS#1 or PKCS#8), as GitHub gives an App"}, []string{"AAAA"}},
		{"not PEM at all, the same message", map[string]string{"GITHUB_APP_PRIVATE_KEY": "hunter2"},
			[]string{"GITHUB_APP_PRIVATE_KEY: is not a PEM-encoded RSA private key (PKCS#1 or PKCS#8), as GitHub gives an App"}, []string{"hunter2"}},
		{"missing", map[string]string{"GITHUB_APP_ID": "", "IDENTITY": ""},
			[]string{"GITHUB_APP_ID: is required and must be a positive App id", "IDENTITY: is required (the check run name)"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(context.Background(), validEnv(tc.env))
			if err == nil {
				t.Fatal("Load accepted it")
			}
			msg := strings.TrimPrefix(err.Error(), "config: ")
			lines := strings.Split(msg, "\n")
			for _, w := range tc.want {
				if !strings.Contains("\n"+msg+"\n", "\n"+w+"\n") {
					t.Errorf("no line %q in\n%s", w, msg)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(msg, n) {
					t.Errorf("%q in\n%s", n, msg)
				}
			}
			seen := map[string]bool{}
			for _, l := range lines {
				name, _, _ := strings.Cut(l, ":")
				if seen[name] {
					t.Errorf("%s named twice in\n%s", name, msg)
				}
				seen[name] = true
			}
			if len(lines) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(lines), len(tc.want), msg)
			}
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) != len(lines) {
				t.Errorf("errors.As(Errors) = %v", errs)
			}
		})
	}
}

// A reconciler's own struct is read the same way: every bad value at once, a required one
// without stutter.
func TestProcessCollects(t *testing.T) {
	type own struct {
		Projects []string      `env:"JIRA_PROJECTS, required"`
		Lines    int           `env:"OWN_LINES, default=3"`
		Wait     time.Duration `env:"OWN_WAIT"`
		On       bool          `env:"OWN_ON"`
	}
	var c own
	err := config.Process(context.Background(), envconfig.MapLookuper(map[string]string{"OWN_LINES": "x", "OWN_WAIT": "5", "OWN_ON": "yes"}), &c)
	want := "JIRA_PROJECTS: is required and not set\n" +
		`OWN_LINES: "x" is not a whole number` + "\n" +
		`OWN_WAIT: "5" is not a duration (a number with a unit: 30s, 5m, 1h30m)` + "\n" +
		`OWN_ON: "yes" is not true or false`
	if err == nil || err.Error() != want {
		t.Fatalf("Process: %v\nwant %s", err, want)
	}
	var ok own
	if err := config.Process(context.Background(), envconfig.MapLookuper(map[string]string{"JIRA_PROJECTS": "A, B", "OWN_WAIT": "2s", "OWN_ON": "true"}), &ok); err != nil {
		t.Fatal(err)
	}
	if len(ok.Projects) != 2 || ok.Projects[1] != "B" || ok.Lines != 3 || ok.Wait != 2*time.Second || !ok.On {
		t.Errorf("read %+v", ok)
	}
}
