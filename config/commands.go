package config

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"

	"github.com/sethvargo/go-envconfig"
)

// The commands of a reconciler binary read only the variables they use, so that an on-call
// engineer can run them with those alone. Their variables mean what Worker's of the same name
// mean.

// Redrive is the environment of `worker redrive`: Pub/Sub, and optionally the App id and
// check run name the decoder uses to tell our check runs from others'.
type Redrive struct {
	Project         string `env:"GOOGLE_CLOUD_PROJECT"`
	EmulatorHost    string `env:"PUBSUB_EMULATOR_HOST"`
	RelayTypePrefix string `env:"RELAY_TYPE_PREFIX, default=dev.chainguard.github"`
	AppID           int64  `env:"GITHUB_APP_ID"`
	Identity        string `env:"IDENTITY"`
}

// LoadRedrive reads and validates Redrive from l (the process environment when nil).
func LoadRedrive(ctx context.Context, l envconfig.Lookuper) (*Redrive, error) {
	var c Redrive
	var errs Errors
	if err := Process(ctx, l, &c); err != nil && !asErrors(err, &errs) {
		return nil, err
	}
	if c.RelayTypePrefix == "" && !errs.has("RELAY_TYPE_PREFIX") {
		errs.add("RELAY_TYPE_PREFIX", "must not be empty")
	}
	if c.AppID < 0 && !errs.has("GITHUB_APP_ID") {
		errs.add("GITHUB_APP_ID", fmt.Sprintf("%d is not an App id", c.AppID))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("config: %w", errs)
	}
	return &c, nil
}

// GitHubApp is the environment of `worker redeliver`, and of anything else that talks to
// GitHub as the App only: its id, its key and the API URL.
type GitHubApp struct {
	AppID          int64  `env:"GITHUB_APP_ID"`
	PrivateKey     string `env:"GITHUB_APP_PRIVATE_KEY"`
	PrivateKeyFile string `env:"GITHUB_APP_PRIVATE_KEY_FILE"`
	APIURL         string `env:"GITHUB_API_URL, default=https://api.github.com/"`
}

// LoadGitHubApp reads and validates GitHubApp from l (the process environment when nil).
func LoadGitHubApp(ctx context.Context, l envconfig.Lookuper) (*GitHubApp, error) {
	var c GitHubApp
	var errs Errors
	if err := Process(ctx, l, &c); err != nil && !asErrors(err, &errs) {
		return nil, err
	}
	appProblems(c.AppID, c.PrivateKey, c.PrivateKeyFile, c.APIURL, func(name, format string, args ...any) {
		if !errs.has(name) {
			errs.add(name, fmt.Sprintf(format, args...))
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("config: %w", errs)
	}
	return &c, nil
}

// Key returns the App's private key, read from the file when one is configured.
func (c *GitHubApp) Key() ([]byte, error) { return readKey(c.PrivateKey, c.PrivateKeyFile) }

// appProblems reports what is wrong with the App's id, key and API URL through bad.
func appProblems(appID int64, key, keyFile, apiURL string, bad func(name, format string, args ...any)) {
	if appID <= 0 {
		bad("GITHUB_APP_ID", "is required and must be a positive App id")
	}
	switch {
	case key == "" && keyFile == "":
		bad("GITHUB_APP_PRIVATE_KEY", "is required (or GITHUB_APP_PRIVATE_KEY_FILE)")
	case key != "" && keyFile != "":
		bad("GITHUB_APP_PRIVATE_KEY", "and GITHUB_APP_PRIVATE_KEY_FILE are both set; set one")
	case key != "" && !isRSAKey([]byte(key)):
		// Never echo the value: it is a secret.
		bad("GITHUB_APP_PRIVATE_KEY", "is not a PEM-encoded RSA private key (PKCS#1 or PKCS#8), as GitHub gives an App")
	}
	if u, err := url.Parse(apiURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("GITHUB_API_URL", "%q is not an http(s) URL", apiURL)
	}
}

// isRSAKey reports whether p is a PEM-encoded RSA private key, the one test of a key, so that
// a bad key gets one message whatever is wrong with it.
func isRSAKey(p []byte) bool {
	block, _ := pem.Decode(p)
	if block == nil {
		return false
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return true
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	_, ok := k.(*rsa.PrivateKey)
	return err == nil && ok
}

// readKey returns the key, or the file's content when the key is not given inline.
func readKey(key, file string) ([]byte, error) {
	if key != "" {
		return []byte(key), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: GITHUB_APP_PRIVATE_KEY_FILE: %w", err)
	}
	if !isRSAKey(b) {
		return nil, fmt.Errorf("config: GITHUB_APP_PRIVATE_KEY_FILE: %s is not a PEM-encoded RSA private key (PKCS#1 or PKCS#8), as GitHub gives an App", file)
	}
	return b, nil
}
