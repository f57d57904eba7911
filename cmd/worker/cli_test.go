package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The command line answers without any environment: help and version exit 0, a command's -h
// too, and what it does not understand exits 2 with the usage on stderr.
func TestBinaryCommandLine(t *testing.T) {
	bin := workerBinary(t)
	tests := []struct {
		args      []string
		code      int
		stdout    []string
		stderr    []string
		notStdout []string
	}{
		{[]string{"-h"}, 0, []string{"usage: worker", "redrive", "redeliver", "version", "GITHUB_APP_ID", "(required)", "PORT", "8080", "HYGIENE_MAX_FILE_LINES", "1000"}, nil, []string{"BINARY"}},
		{[]string{"--help"}, 0, []string{"usage: worker", "Environment"}, nil, nil},
		{[]string{"help"}, 0, []string{"usage: worker"}, nil, nil},
		{[]string{"version"}, 0, []string{"(commit ", ", built "}, nil, nil},
		{[]string{"-version"}, 0, []string{"(commit "}, nil, nil},
		{[]string{"redrive", "-h"}, 0, []string{"usage: worker redrive"}, nil, nil},
		{[]string{"redeliver", "-h"}, 0, []string{"usage: worker redeliver", "-since"}, nil, nil},
		{[]string{"-x"}, 2, nil, []string{`unknown argument "-x"`, "usage: worker"}, nil},
		{[]string{"local"}, 2, nil, []string{`unknown argument "local"`, "usage: worker"}, nil},
		{[]string{"redrive", "-now"}, 2, nil, []string{"flag provided but not defined: -now", "usage: worker redrive"}, nil},
		{[]string{"redrive", "dlq"}, 1, nil, []string{"GOOGLE_CLOUD_PROJECT"}, nil},
		{[]string{"redeliver"}, 1, nil, []string{"GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY"}, nil},
		{nil, 1, nil, []string{"GITHUB_APP_ID", "IDENTITY"}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = []string{}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.notStdout {
				if strings.Contains(stdout.String(), w) {
					t.Errorf("stdout has %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// The version the build names with -ldflags -X (make build passes them) is what `version` prints.
func TestBinaryVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the worker")
	}
	bin := filepath.Join(t.TempDir(), "worker")
	const pkg = "github.com/prreconciler/prreconciler/internal/buildinfo"
	build := exec.Command("go", "build", "-ldflags", "-X "+pkg+".version=v1.2.3 -X "+pkg+".commit=abc123 -X "+pkg+".date=2026-01-02T03:04:05Z", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), "v1.2.3 (commit abc123, built 2026-01-02T03:04:05Z)"; got != want {
		t.Errorf("version = %q, want %q", got, want)
	}
	_ = os.Remove(bin)
}
