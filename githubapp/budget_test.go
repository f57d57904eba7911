package githubapp

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func answer(status int, remaining, limit int, reset time.Time, retryAfter string) *http.Response {
	h := http.Header{}
	if limit > 0 {
		h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		h.Set("X-RateLimit-Resource", "core")
	}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	return &http.Response{StatusCode: status, Header: h}
}

// TestAdmission drives the admission rules with answers and a clock of the test's own.
func TestAdmission(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	reset := now.Add(40 * time.Minute)
	tests := []struct {
		name      string
		answers   []*http.Response
		reserved  int // points admitted before, not released
		cost      int
		at        time.Time
		wantUntil time.Time // zero: admitted
		wantWhy   string
	}{
		{name: "nothing known", cost: 8, at: now},
		{name: "enough left", answers: []*http.Response{answer(200, 100, 5000, reset, "")}, cost: 8, at: now},
		{name: "spent", answers: []*http.Response{answer(200, 17, 5000, reset, "")}, cost: 8, at: now,
			wantUntil: reset, wantWhy: "17 of 5000 points left"},
		{name: "spent by reconciles in progress", answers: []*http.Response{answer(200, 30, 5000, reset, "")}, reserved: 16, cost: 8, at: now,
			wantUntil: reset, wantWhy: "16 reserved"},
		{name: "primary limit hit", answers: []*http.Response{answer(403, 0, 5000, reset, "")}, cost: 1, at: now,
			wantUntil: reset, wantWhy: "0 of 5000"},
		{name: "after the reset", answers: []*http.Response{answer(200, 0, 5000, reset, "")}, cost: 8, at: reset.Add(time.Second)},
		{name: "secondary limit", answers: []*http.Response{answer(403, 4000, 5000, reset, "60")}, cost: 8, at: now,
			wantUntil: now.Add(time.Minute), wantWhy: "asked to wait"},
		{name: "secondary limit over", answers: []*http.Response{answer(403, 4000, 5000, reset, "60")}, cost: 8, at: now.Add(61 * time.Second)},
		{name: "one 5xx", answers: []*http.Response{answer(502, 0, 0, time.Time{}, "")}, cost: 8, at: now,
			wantUntil: now.Add(time.Second), wantWhy: "outage"},
		{name: "a storm of 5xx", answers: []*http.Response{answer(502, 0, 0, time.Time{}, ""), answer(503, 0, 0, time.Time{}, ""),
			answer(503, 0, 0, time.Time{}, ""), answer(503, 0, 0, time.Time{}, "")}, cost: 8, at: now,
			wantUntil: now.Add(8 * time.Second), wantWhy: "outage"},
		{name: "5xx then an answer", answers: []*http.Response{answer(503, 0, 0, time.Time{}, ""), answer(200, 4000, 5000, reset, "")}, cost: 8, at: now},
		{name: "5xx with Retry-After", answers: []*http.Response{answer(503, 0, 0, time.Time{}, "120")}, cost: 8, at: now,
			wantUntil: now.Add(2 * time.Minute), wantWhy: "outage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimits(10, 0)
			for _, a := range tt.answers {
				l.observe(42, a, now)
			}
			if tt.reserved > 0 {
				if _, err := l.admit(42, tt.reserved, now); err != nil {
					t.Fatalf("setting up the reservation: %v", err)
				}
			}
			release, err := l.admit(42, tt.cost, tt.at)
			if tt.wantUntil.IsZero() {
				if err != nil {
					t.Fatalf("admit = %v, want admitted", err)
				}
				release()
				release() // a second release is a no-op
				return
			}
			var be *BudgetError
			if !errors.As(err, &be) {
				t.Fatalf("admit = %v, want a *BudgetError", err)
			}
			if !be.Until.Equal(tt.wantUntil) || !strings.Contains(be.Error(), tt.wantWhy) {
				t.Fatalf("refused until %s: %v; want until %s and %q", be.Until, be, tt.wantUntil, tt.wantWhy)
			}
			if !IsTransient(err) {
				t.Error("a budget refusal is not transient")
			}
		})
	}
}

// TestAdmissionReservesAndReleases: concurrent reconciles of one installation do not all count
// on the same points; a released reservation is available again.
func TestAdmissionReservesAndReleases(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLimits(10, 0)
	l.observe(1, answer(200, 40, 5000, now.Add(time.Hour), ""), now)
	var releases []func()
	for i := range 3 {
		r, err := l.admit(1, 10, now)
		if err != nil {
			t.Fatalf("admission %d: %v", i+1, err)
		}
		releases = append(releases, r)
	}
	if _, err := l.admit(1, 10, now); err == nil {
		t.Fatal("a fourth reconcile of 10 points was admitted with 40 left and a reserve of 10")
	}
	releases[0]()
	if _, err := l.admit(1, 10, now); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if rl, _ := l.get(1); rl.Reserved != 30 {
		t.Errorf("reserved %d, want 30", rl.Reserved)
	}
}

// TestResetJitter: after a reset each process waits its own jitter before it starts work.
func TestResetJitter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	reset := now.Add(time.Minute)
	l := newLimits(10, 30*time.Second)
	l.observe(1, answer(200, 0, 5000, reset, ""), now)
	_, err := l.admit(1, 1, reset.Add(l.jitter/2))
	if l.jitter > 0 && err == nil {
		t.Fatalf("admitted %s after the reset, within the jitter %s", l.jitter/2, l.jitter)
	}
	if _, err := l.admit(1, 1, reset.Add(l.jitter+time.Millisecond)); err != nil {
		t.Fatalf("after the jitter: %v", err)
	}
	if l.jitter < 0 || l.jitter >= 30*time.Second {
		t.Errorf("jitter %s outside [0, 30s)", l.jitter)
	}
}
