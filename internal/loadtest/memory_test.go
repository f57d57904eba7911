package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
)

// procStatus reads VmRSS and VmHWM (kB) of pid.
func procStatus(pid int) (rss, hwm int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) < 2 {
			continue
		}
		switch fs[0] {
		case "VmRSS:":
			rss, _ = strconv.Atoi(fs[1])
		case "VmHWM:":
			hwm, _ = strconv.Atoi(fs[1])
		}
	}
	return rss, hwm
}

// TestLoadMemory builds ./cmd/worker, runs it in pull mode against the emulator with
// MAX_IN_FLIGHT=10 and the GitHub fake of this process (20 ms latency), publishes 10,000
// messages and samples the worker's VmRSS and VmHWM while they drain: flow control must
// keep the resident set flat however many messages wait.
func TestLoadMemory(t *testing.T) {
	needLoad(t)
	const total = 10000
	emu := pubsubemu.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "worker")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/worker")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "GOPROXY=off") // nothing downloads at run time
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	gh := githubtest.NewTestServer(t, githubtest.WithRateLimit(1<<30), githubtest.WithLatency(20*time.Millisecond))
	const prs = 100
	for n := 1; n <= prs; n++ {
		gh.AddPullRequest(owner, repo, githubtest.PullRequest{Number: n, HeadSHA: sha(n),
			Files: []githubtest.File{{Filename: "README.md", Patch: "@@ -0,0 +1 @@\n+hello"}}})
	}
	key := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(key, gh.App().PrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	project := emu.Project("memory") // a fresh project: -count=N repeats the run
	ps, err := emu.Client(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pubsubemu.CreateTopic(ctx, ps, "requests"); err != nil {
		t.Fatal(err)
	}
	sub, err := pubsubemu.CreateSubscription(ctx, ps, pubsubemu.SubscriptionConfig{ID: "worker", Topic: "requests", AckDeadline: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"GITHUB_APP_ID="+strconv.FormatInt(gh.App().ID, 10), "GITHUB_APP_PRIVATE_KEY_FILE="+key,
		"GITHUB_API_URL="+gh.URL()+"/", "IDENTITY="+identity, "PUBSUB_SUBSCRIPTION="+sub,
		"GOOGLE_CLOUD_PROJECT="+project, "PUBSUB_EMULATOR_HOST="+emu.Host, "MAX_IN_FLIGHT=10", "LOG_LEVEL=error")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	time.Sleep(3 * time.Second)
	idle, _ := procStatus(pid)
	if idle == 0 {
		t.Fatalf("worker not running: %s", stderr.String())
	}

	pub := ps.Publisher("requests")
	var results []*pubsub.PublishResult
	for i := range total {
		m := request("", owner, repo, i%prs+1, sha(3_000_000+i), gh.InstallationID(gh.App(), owner), false)
		results = append(results, pub.Publish(ctx, &pubsub.Message{Data: m.Data}))
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pub.Stop()
	published := time.Now()

	type sample struct {
		done, rss int
		at        time.Duration
	}
	var samples []sample
	peakRSS := 0
	deadline := time.Now().Add(4 * time.Minute)
	done := 0
	for done < total && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		// One run created completed per message (no annotations; the reconcile ends well within
		// IN_PROGRESS_AFTER, so nothing is written in_progress first).
		done = gh.Count(githubtest.RouteCreateCheckRun)
		rss, _ := procStatus(pid)
		if rss == 0 {
			t.Fatalf("worker exited: %s", stderr.String())
		}
		peakRSS = max(peakRSS, rss)
		samples = append(samples, sample{done, rss, time.Since(published)})
	}
	rss, hwm := procStatus(pid)
	drain := time.Since(published)
	t.Logf("idle RSS %d kB; %d of %d messages completed in %s; peak sampled RSS %d kB; VmHWM %d kB; final RSS %d kB",
		idle, done, total, drain.Round(time.Second), peakRSS, hwm, rss)
	// RSS at each quarter of the drain.
	var quarters []string
	q := 1
	for _, s := range samples {
		if q <= 4 && s.done >= total*q/4 {
			quarters = append(quarters, fmt.Sprintf("%d%%: %d kB", 25*q, s.rss))
			q++
		}
	}
	t.Logf("RSS while draining: %s", strings.Join(quarters, ", "))
	emit(t, "memory", total, done, idle, peakRSS, hwm, rss, strings.Join(quarters, "; "), drain.Round(time.Second), float64(done)/drain.Seconds())
	if done < total {
		t.Errorf("only %d of %d messages completed", done, total)
	}
}
