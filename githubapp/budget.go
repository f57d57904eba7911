package githubapp

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the admission by budget.
const (
	// DefaultBudgetReserve is the rate-limit points kept back from admissions: what a run
	// already started may still need beyond its estimate (a re-read, a failure write).
	DefaultBudgetReserve = 10
	// DefaultResetJitter bounds the random delay after a reset (or a pause) before a Factory
	// admits work again, so that many instances do not all come back at the same second.
	DefaultResetJitter = 30 * time.Second
	// maxOutagePause is the longest a run of 5xx answers pauses an installation's admissions.
	maxOutagePause = time.Minute
)

// RateLimit is what a Factory knows of an installation's GitHub budget, from the answers to
// its own requests (other processes spend the same budget unseen).
type RateLimit struct {
	// Installation is the installation id.
	Installation int64
	// Limit and Remaining are the primary rate limit's points an hour and those left, from
	// the last answer's x-ratelimit-limit and x-ratelimit-remaining.
	Limit, Remaining int
	// Reset is when Remaining goes back to Limit (x-ratelimit-reset).
	Reset time.Time
	// Seen is when the rate-limit headers were last read; zero when never.
	Seen time.Time
	// PauseUntil is when GitHub may be asked again after it asked every request of the
	// installation to wait (a secondary limit's Retry-After) or after a run of 5xx answers.
	PauseUntil time.Time
	// Reserved are the points held by reconciles admitted and not yet finished.
	Reserved int
}

// BudgetError says a reconcile was not admitted because the installation's budget cannot
// cover it, or GitHub asked to wait: nothing was sent, and the work may start after Until.
// It is transient.
type BudgetError struct {
	Installation int64
	// Reason says why: the budget left, or the pause GitHub asked for.
	Reason string
	// Until is when admissions may resume (jitter included).
	Until time.Time
}

// Error says which installation, why, and until when.
func (e *BudgetError) Error() string {
	return fmt.Sprintf("githubapp: installation %d: %s; not started, GitHub is asked nothing until %s",
		e.Installation, e.Reason, e.Until.UTC().Format(time.RFC3339))
}

// Temporary reports true: the budget comes back.
func (e *BudgetError) Temporary() bool { return true }

// limits tracks the rate limits of installations; safe for concurrent use.
type limits struct {
	mu      sync.Mutex
	m       map[int64]*limitState
	jitter  time.Duration // this process's delay after a reset, drawn once
	reserve int
}

type limitState struct {
	RateLimit
	errors5xx int // consecutive 5xx answers
}

func newLimits(reserve int, maxJitter time.Duration) *limits {
	l := &limits{m: map[int64]*limitState{}, reserve: reserve}
	if maxJitter > 0 {
		l.jitter = rand.N(maxJitter)
	}
	return l
}

func (l *limits) state(id int64) *limitState {
	st := l.m[id]
	if st == nil {
		st = &limitState{RateLimit: RateLimit{Installation: id}}
		l.m[id] = st
	}
	return st
}

// observe reads an answer of installation id: its rate-limit headers, a secondary limit's
// Retry-After, and 5xx answers (a run of them pauses admissions, growing up to a minute).
func (l *limits) observe(id int64, resp *http.Response, now time.Time) {
	if resp == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(id)
	h := resp.Header
	if rem, err := strconv.Atoi(h.Get("X-RateLimit-Remaining")); err == nil {
		limit, _ := strconv.Atoi(h.Get("X-RateLimit-Limit"))
		reset, rerr := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
		// Only the core budget: search and GraphQL have their own.
		if res := h.Get("X-RateLimit-Resource"); rerr == nil && (res == "" || strings.EqualFold(res, "core")) {
			st.Limit, st.Remaining, st.Seen, st.Reset = limit, rem, now, time.Unix(reset, 0)
		}
	}
	switch code := resp.StatusCode; {
	case code >= 500:
		st.errors5xx++
		pause := min(time.Second<<min(st.errors5xx-1, 6), maxOutagePause)
		if ra := retryAfter(resp); ra > 0 {
			pause = ra
		}
		st.PauseUntil = later(st.PauseUntil, now.Add(pause))
	case (code == http.StatusForbidden || code == http.StatusTooManyRequests) && h.Get("Retry-After") != "":
		// A secondary limit: GitHub asks the whole installation to wait, not this request.
		st.PauseUntil = later(st.PauseUntil, now.Add(retryAfter(resp)))
	case code < 400 || code == http.StatusNotFound || code == http.StatusUnprocessableEntity:
		// GitHub answers again: a pause for 5xx ends; one for a secondary limit stands.
		if st.errors5xx > 0 {
			st.errors5xx = 0
			st.PauseUntil = time.Time{}
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// known reports whether the budget of id has been read since its last reset.
func (st *limitState) known(now time.Time) bool {
	return !st.Seen.IsZero() && now.Before(st.Reset)
}

// admit reserves cost points of id, or says until when not to start.
func (l *limits) admit(id int64, cost int, now time.Time) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(id)
	if now.Before(st.PauseUntil) {
		return nil, &BudgetError{Installation: id, Reason: "GitHub asked to wait (a secondary rate limit or an outage)",
			Until: st.PauseUntil.Add(l.jitter)}
	}
	if st.known(now) {
		if left := st.Remaining - st.Reserved; left < cost+l.reserve {
			return nil, &BudgetError{Installation: id,
				Reason: fmt.Sprintf("rate limit budget spent: %d of %d points left, %d reserved by reconciles in progress, %d needed (%d and a reserve of %d)",
					st.Remaining, st.Limit, st.Reserved, cost+l.reserve, cost, l.reserve),
				Until: st.Reset.Add(l.jitter)}
		}
	} else if !st.Seen.IsZero() && now.Before(st.Reset.Add(l.jitter)) {
		// Reset, but this process waits its jitter before it starts new work.
		return nil, &BudgetError{Installation: id, Reason: "rate limit just reset; waiting this instance's jitter",
			Until: st.Reset.Add(l.jitter)}
	}
	st.Reserved += cost
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			st.Reserved -= cost
			l.mu.Unlock()
		})
	}, nil
}

func (l *limits) get(id int64) (RateLimit, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.m[id]
	if !ok {
		return RateLimit{}, false
	}
	return st.RateLimit, true
}

// observeTransport reads every answer of an installation's requests into its limits, and
// into the Usage of the request's context (see WithUsage).
type observeTransport struct {
	next   http.RoundTripper
	limits *limits
	id     func() int64
}

func (t *observeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil {
		id := t.id()
		t.limits.observe(id, resp, time.Now())
		if u := usageFrom(req.Context()); u != nil {
			u.record(id, req, resp)
		}
	}
	return resp, err
}

// RateLimit returns what the Factory knows of an installation's budget.
func (f *Factory) RateLimit(installationID int64) (RateLimit, bool) {
	return f.limits.get(installationID)
}

// Admit decides whether a reconcile of owner/repo that will cost about cost rate-limit points
// may start now, before anything is sent to GitHub. It reserves the points until release is
// called, so that concurrent reconciles of one installation do not count on the same budget.
//
// Admit refuses with a *BudgetError while GitHub asks the installation to wait, and when the
// known budget, less what is reserved, cannot cover cost and Options.BudgetReserve before the
// reset. After a reset it waits this process's Options.ResetJitter first. A budget never read
// is read with GET /rate_limit, which costs no point. installationID 0 means the repository's
// installation when this Factory has looked it up; otherwise Admit admits.
func (f *Factory) Admit(ctx context.Context, owner, repo string, installationID int64, cost int) (release func(), err error) {
	id := installationID
	if id == 0 {
		f.mu.Lock()
		id = f.repos[strings.ToLower(owner+"/"+repo)]
		f.mu.Unlock()
		if id == 0 {
			return func() {}, nil // nothing known: the lookup itself is the App's, not the installation's
		}
	}
	if rl, ok := f.limits.get(id); !ok || rl.Seen.IsZero() {
		f.readBudget(ctx, owner, repo, id)
	}
	return f.limits.admit(id, cost, time.Now())
}

// readBudget reads an installation's rate limit once (concurrent callers share the read); a
// failure leaves the budget unknown, and the reconcile then learns it from its own answers.
func (f *Factory) readBudget(ctx context.Context, owner, repo string, id int64) {
	ch := f.lookups.DoChan("rate_limit/"+strconv.FormatInt(id, 10), func() (any, error) {
		c, err := f.Client(ctx, owner, repo, id)
		if err != nil {
			return nil, err
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.budget)
		defer cancel()
		_, _, err = c.RateLimit.Get(rctx) // observed by the installation's transport
		if err != nil {
			f.log.Debug("could not read the installation's rate limit", "installation_id", id, "error", err.Error())
		}
		return nil, err
	})
	select {
	case <-ch:
	case <-ctx.Done():
	}
}
