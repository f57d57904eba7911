package pubsubemu

import (
	"errors"
	"fmt"
	"testing"
)

// outcome records how unavailable ended a test, without ending the real one.
type outcome struct {
	testing.TB
	fatal, skip string
}

func (o *outcome) Helper()                        {}
func (o *outcome) Fatalf(format string, a ...any) { o.fatal = fmt.Sprintf(format, a...) }
func (o *outcome) Skipf(format string, a ...any)  { o.skip = fmt.Sprintf(format, a...) }

// A missing emulator skips a test, except under CI=true, where it fails it; an emulator that
// is installed but does not start always fails it.
func TestUnavailable(t *testing.T) {
	missing := fmt.Errorf("%w at /nowhere: no such file", errNoBinary)
	broken := errors.New("emulator exited before listening")
	for _, tt := range []struct {
		name      string
		err       error
		ci        string
		wantFatal bool
	}{
		{"missing, not CI", missing, "", false},
		{"missing, CI=false", missing, "false", false},
		{"missing, CI=true", missing, "true", true},
		{"broken, not CI", broken, "", true},
		{"broken, CI=true", broken, "true", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := &outcome{TB: t}
			unavailable(o, tt.err, func(k string) string {
				if k == CIEnv {
					return tt.ci
				}
				return ""
			})
			if gotFatal := o.fatal != ""; gotFatal != tt.wantFatal || (o.fatal == "") == (o.skip == "") {
				t.Fatalf("fatal %q, skip %q; want fatal %v", o.fatal, o.skip, tt.wantFatal)
			}
		})
	}
}

// Under CI=true with no emulator where one is looked for, Start fails the test.
func TestStartFailsUnderCIWithoutEmulator(t *testing.T) {
	t.Setenv(BinaryEnv, "/nonexistent/cloud-pubsub-emulator")
	t.Setenv(CIEnv, "true")
	_, err := StartProcess()
	if !errors.Is(err, errNoBinary) {
		t.Fatalf("StartProcess = %v, want the missing-binary error", err)
	}
	o := &outcome{TB: t}
	if e := Start(o); e != nil || o.fatal == "" || o.skip != "" {
		t.Fatalf("Start under CI=true without an emulator: emulator %v, fatal %q, skip %q", e, o.fatal, o.skip)
	}
}
