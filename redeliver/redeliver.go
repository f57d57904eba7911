// Package redeliver asks GitHub again for the App's webhook deliveries that never succeeded:
// GitHub does not retry a delivery that failed, so one answered 5xx or lost while the service was down is gone otherwise.
package redeliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// DefaultSince is the window Run looks back over when Options.Since is zero, and
// DefaultMaxRedeliveries how many redeliveries of one GUID it requests at most.
const (
	DefaultSince           = 24 * time.Hour
	DefaultMaxRedeliveries = 3
)

// Options are what one Run does. The zero value looks back DefaultSince and requests
// redeliveries, writing no progress.
type Options struct {
	// Since is how far back a delivery may have been first made to be redelivered; 0 means
	// DefaultSince. GitHub keeps deliveries for 3 days.
	Since time.Duration
	// DryRun prints what would be redelivered and requests nothing.
	DryRun bool
	// MaxRedeliveries bounds the redeliveries requested for one GUID over all runs: a
	// delivery the service refuses every time (a 4xx) is not asked for forever. 0 means
	// DefaultMaxRedeliveries.
	MaxRedeliveries int
	// Progress receives a line per delivery GUID and the summary; nil discards them.
	Progress io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PerPage is the page size of the list; 0 means 100, GitHub's largest.
	PerPage int
}

// Summary counts what Run found and did, by delivery GUID.
type Summary struct {
	// Listed is the number of delivery attempts read, of all ages.
	Listed int
	// GUIDs is the number of deliveries (GUIDs) first made within the window.
	GUIDs int
	// Succeeded were answered 2xx at some attempt.
	Succeeded int
	// Pending have an attempt GitHub has not finished.
	Pending int
	// GaveUp failed and already had MaxRedeliveries redeliveries.
	GaveUp int
	// Redelivered had a redelivery requested now (or would have, with DryRun).
	Redelivered int
	// Errors are the redelivery requests GitHub refused.
	Errors int
}

func (s Summary) String() string {
	return fmt.Sprintf("%d deliveries in the window (%d attempts listed): %d succeeded, %d pending, %d given up, %d redelivered, %d errors",
		s.GUIDs, s.Listed, s.Succeeded, s.Pending, s.GaveUp, s.Redelivered, s.Errors)
}

// ErrRedeliver is what Run's error wraps when GitHub refused some redelivery requests.
var ErrRedeliver = errors.New("redeliver: some redeliveries were refused")

// Run lists the deliveries of the App client authenticates as (client must use the App's
// JWT: GET /app/hook/deliveries, following the cursor of each page), groups them by GUID, and
// for each delivery first made within the window that no attempt answered 2xx, requests one
// redelivery (POST /app/hook/deliveries/{id}/attempts). It is safe to run repeatedly:
//   - a GUID any attempt of which succeeded is skipped;
//   - a GUID with an attempt still pending is skipped, since its outcome is not known yet;
//   - a GUID whose redeliveries failed is redelivered again, once per run, until it has had
//     MaxRedeliveries redeliveries or its first delivery leaves the window; so a scheduled
//     run retries a failing service a bounded number of times, and never in a loop.
func Run(ctx context.Context, client *github.Client, opts Options) (Summary, error) {
	if opts.Since <= 0 {
		opts.Since = DefaultSince
	}
	if opts.MaxRedeliveries <= 0 {
		opts.MaxRedeliveries = DefaultMaxRedeliveries
	}
	if opts.PerPage <= 0 {
		opts.PerPage = 100
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	out := opts.Progress
	if out == nil {
		out = io.Discard
	}
	since := now().Add(-opts.Since)
	var sum Summary
	groups := map[string][]*github.HookDelivery{}
	list := &github.ListCursorOptions{PerPage: opts.PerPage}
	for {
		page, resp, err := client.Apps.ListHookDeliveries(ctx, list)
		if err != nil {
			return sum, fmt.Errorf("redeliver: list deliveries: %w", err)
		}
		oldest := now()
		for _, d := range page {
			sum.Listed++
			groups[d.GetGUID()] = append(groups[d.GetGUID()], d)
			if t := d.GetDeliveredAt().Time; t.Before(oldest) {
				oldest = t
			}
		}
		// GitHub lists newest first: once a page reaches past the window, the next pages
		// hold only older deliveries.
		if resp.Cursor == "" || len(page) == 0 || oldest.Before(since) {
			break
		}
		list.Cursor = resp.Cursor
	}
	guids := make([]string, 0, len(groups))
	for g := range groups {
		guids = append(guids, g)
	}
	sort.Strings(guids)
	for _, g := range guids {
		ds := groups[g]
		first, ok := original(ds)
		if !ok || first.GetDeliveredAt().Time.Before(since) {
			continue // first made before the window, or its first attempt is beyond the list
		}
		sum.GUIDs++
		redeliveries := 0
		succeeded, pending := false, false
		for _, d := range ds {
			if d.GetRedelivery() {
				redeliveries++
			}
			switch code := d.GetStatusCode(); {
			case code >= 200 && code < 300:
				succeeded = true
			case code == 0 && strings.EqualFold(d.GetStatus(), "pending"):
				pending = true
			}
		}
		latest := ds[0]
		for _, d := range ds {
			if d.GetDeliveredAt().Time.After(latest.GetDeliveredAt().Time) {
				latest = d
			}
		}
		what := fmt.Sprintf("%s %s", g, eventName(first))
		switch {
		case succeeded:
			sum.Succeeded++
			fmt.Fprintf(out, "ok         %s: delivered\n", what)
		case pending:
			sum.Pending++
			fmt.Fprintf(out, "pending    %s: an attempt is still pending\n", what)
		case redeliveries >= opts.MaxRedeliveries:
			sum.GaveUp++
			fmt.Fprintf(out, "given up   %s: %d redeliveries failed, last %s\n", what, redeliveries, answer(latest))
		case opts.DryRun:
			sum.Redelivered++
			fmt.Fprintf(out, "would redeliver %s: last %s\n", what, answer(latest))
		default:
			_, _, err := client.Apps.RedeliverHookDelivery(ctx, first.GetID())
			var accepted *github.AcceptedError // 202 is the documented answer
			if err != nil && !errors.As(err, &accepted) {
				if ctx.Err() != nil {
					return sum, fmt.Errorf("redeliver: %s: %w", g, ctx.Err())
				}
				sum.Errors++
				fmt.Fprintf(out, "error      %s: %v\n", what, err)
				continue
			}
			sum.Redelivered++
			fmt.Fprintf(out, "redelivered %s: last %s\n", what, answer(latest))
		}
	}
	fmt.Fprintf(out, "%s\n", sum)
	if sum.Errors > 0 {
		return sum, fmt.Errorf("%w: %d of %d", ErrRedeliver, sum.Errors, sum.Errors+sum.Redelivered)
	}
	return sum, nil
}

// original is the GUID's first delivery (not a redelivery), if it was listed.
func original(ds []*github.HookDelivery) (*github.HookDelivery, bool) {
	for _, d := range ds {
		if !d.GetRedelivery() {
			return d, true
		}
	}
	return nil, false
}

func eventName(d *github.HookDelivery) string {
	if a := d.GetAction(); a != "" {
		return d.GetEvent() + "." + a
	}
	return d.GetEvent()
}

// answer describes what an attempt got: "503 at 2026-…" or its status text when no HTTP answer came.
func answer(d *github.HookDelivery) string {
	at := d.GetDeliveredAt().Time.UTC().Format(time.RFC3339)
	if c := d.GetStatusCode(); c != 0 {
		return fmt.Sprintf("%d %s at %s", c, http.StatusText(c), at)
	}
	return fmt.Sprintf("%q at %s", d.GetStatus(), at)
}
