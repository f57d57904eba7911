package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestLocalRun runs `make local`'s pipeline and checks what it prints: the first event
// delivered to the webhook ingress as GitHub delivers it, each stage's outcome as it happens,
// the check runs, and how to point the deployed binary at a real App.
func TestLocalRun(t *testing.T) {
	var out bytes.Buffer
	t.Setenv("LOG_LEVEL", "")
	if err := runLocal(context.Background(), &out, nil); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"webhook ingress (MODE=ingress) at http://127.0.0.1:",
		"-> GitHub delivery pull_request synchronize for 6dcb09b5b578, signed (X-Hub-Signature-256), POST /webhook: 200 published as message m0",
		"[intake   ] message m0, relay pull_request synchronize, attempt 1: forwarded",
		"request octo-org/hello-world#7@6dcb09b5b578, attempt 1: reconciled",
		"request octo-org/hello-world#7@6dcb09b5b578, attempt 1: skipped",
		"one reconcile: the twin was delivered only once the first was acked",
		"request octo-org/hello-world#7@c0ffee00c0ff, attempt 1: reconciled",
		"unreadable, attempt 5: invalid", "dead-lettered",
		"diff-hygiene  6dcb09b5b578  completed   failure", "diff-hygiene  c0ffee00c0ff  completed   failure",
		"GITHUB_APP_ID=<app id>", "INTAKE_SUBSCRIPTION=", "MODE=ingress WEBHOOK_SECRET=",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("local run output lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "attempt 1: reconciled"); n != 2 {
		t.Errorf("%d reconciled messages, want two (the first commit and the new one):\n%s", n, s)
	}
}

// The Makefile's local target is this command, README command 1.
func TestMakeLocalRunsThisCommand(t *testing.T) {
	out, err := exec.Command("make", "-n", "--no-print-directory", "-C", "../..", "local").CombinedOutput()
	if err != nil {
		t.Skipf("make -n local: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, "run ./cmd/local") {
		t.Errorf("make local runs %q, want go run ./cmd/local", got)
	}
}
