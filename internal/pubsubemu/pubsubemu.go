// Package pubsubemu runs the real Google Cloud Pub/Sub emulator for tests and offers helpers
// to create topics and push, pull and dead-letter subscriptions on it with the v2 client.
package pubsubemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/prreconciler/prreconciler/internal/logbuf"
)

// DefaultBinary is where the Google Cloud SDK installs the emulator's launcher.
const DefaultBinary = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"

// BinaryEnv names an environment variable that, when set, overrides DefaultBinary.
const BinaryEnv = "PUBSUB_EMULATOR_BINARY"

// CIEnv names the variable CI systems set to "true". Under it a missing emulator fails the
// tests that need one instead of skipping them: a CI run must never pass by testing less.
const CIEnv = "CI"

// StartTimeout bounds how long Start waits for the emulator to accept connections.
const StartTimeout = 60 * time.Second

// Emulator is a running Pub/Sub emulator process.
type Emulator struct {
	// Host is the emulator's address, "127.0.0.1:PORT".
	Host string

	cmd  *exec.Cmd
	pid  int
	log  *logbuf.Buffer // its output, the first MiB: enough to diagnose
	done chan struct{}

	projects atomic.Int64

	mu      sync.Mutex
	clients []*pubsub.Client
	stopped bool
}

// Start starts an emulator on a free port and stops it in t.Cleanup. It skips the test when
// the emulator is not installed (fails it under CI=true), and fails it when the emulator does
// not come up within StartTimeout.
func Start(t testing.TB) *Emulator {
	t.Helper()
	e, err := StartProcess()
	if err != nil {
		unavailable(t, err, os.Getenv)
		return nil
	}
	t.Cleanup(e.Stop)
	return e
}

var errNoBinary = errors.New("Pub/Sub emulator not found")

// unavailable ends a test that needs an emulator it could not have: a skip when the emulator
// is not installed, except under CI=true, and a failure otherwise.
func unavailable(t testing.TB, err error, getenv func(string) string) {
	t.Helper()
	switch {
	case errors.Is(err, errNoBinary) && getenv(CIEnv) == "true":
		t.Fatalf("pubsubemu: %v; under %s=true a missing emulator is a failure (install the Google Cloud SDK's pubsub-emulator component, or set %s)", err, CIEnv, BinaryEnv)
	case errors.Is(err, errNoBinary):
		t.Skipf("pubsubemu: %v (install the Google Cloud SDK's pubsub-emulator component, or set %s; under %s=true this fails)", err, BinaryEnv, CIEnv)
	default:
		t.Fatalf("pubsubemu: %v", err)
	}
}

// binary is the emulator's launcher: BinaryEnv if set, else DefaultBinary, else the one in
// the SDK root gcloud reports (an SDK installed elsewhere).
func binary() string {
	if bin := os.Getenv(BinaryEnv); bin != "" {
		return bin
	}
	if _, err := os.Stat(DefaultBinary); err == nil {
		return DefaultBinary
	}
	out, err := exec.Command("gcloud", "info", "--format=value(installation.sdk_root)").Output()
	if root := strings.TrimSpace(string(out)); err == nil && root != "" {
		return filepath.Join(root, "platform", "pubsub-emulator", "bin", "cloud-pubsub-emulator")
	}
	return DefaultBinary
}

// StartProcess is Start without a testing.TB, for TestMain: the caller must call Stop. It
// returns an error matching the missing-binary case when the emulator is not installed.
func StartProcess() (*Emulator, error) {
	bin := binary()
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w at %s: %v", errNoBinary, bin, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	log := &logbuf.Buffer{Limit: 1 << 20}
	cmd := exec.Command(bin, "--host=127.0.0.1", "--port="+strconv.Itoa(port))
	cmd.Stdout = log
	cmd.Stderr = log
	// Its own process group: the launcher is a shell script that starts java, and Stop
	// kills the whole group by the pid we started, never anything else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	e := &Emulator{Host: host, cmd: cmd, pid: cmd.Process.Pid, log: log, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(e.done)
	}()
	deadline := time.Now().Add(StartTimeout)
	for {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			c.Close()
			return e, nil
		}
		select {
		case <-e.done:
			return nil, fmt.Errorf("emulator exited before listening on %s; its output:\n%s", host, log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.Stop()
			return nil, fmt.Errorf("emulator not listening on %s after %s; its output:\n%s", host, StartTimeout, log.String())
		}
	}
}

// Stop closes the clients made by Client and kills the emulator's process group (by the pid
// Start started). It is idempotent.
func (e *Emulator) Stop() {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.stopped = true
	clients := e.clients
	e.clients = nil
	e.mu.Unlock()
	for _, c := range clients {
		_ = c.Close()
	}
	_ = syscall.Kill(-e.pid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-e.pid, syscall.SIGKILL)
		<-e.done
	}
}

// Output returns what the emulator wrote so far, for failure messages.
func (e *Emulator) Output() string { return e.log.String() }

// Client returns a v2 client of the emulator for project, closed by Stop.
func (e *Emulator) Client(ctx context.Context, project string) (*pubsub.Client, error) {
	c, err := pubsub.NewClient(ctx, project, e.ClientOptions()...)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		c.Close()
		return nil, errors.New("pubsubemu: emulator stopped")
	}
	e.clients = append(e.clients, c)
	return c, nil
}

// ClientOptions are the options that connect a Pub/Sub client to the emulator without
// credentials (what PUBSUB_EMULATOR_HOST would set, without touching the environment).
func (e *Emulator) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(e.Host),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithoutAuthentication(),
		option.WithTelemetryDisabled(),
	}
}

// Project returns a project id not used before on this emulator, starting with prefix:
// tests sharing one emulator (or run with -count) each get their own topics and
// subscriptions.
func (e *Emulator) Project(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, e.projects.Add(1))
}

// TopicName is the fully qualified name of a topic.
func TopicName(project, id string) string { return "projects/" + project + "/topics/" + id }

// SubscriptionName is the fully qualified name of a subscription.
func SubscriptionName(project, id string) string {
	return "projects/" + project + "/subscriptions/" + id
}

// CreateTopic creates the topic id in the client's project and returns its full name.
func CreateTopic(ctx context.Context, c *pubsub.Client, id string) (string, error) {
	name := TopicName(c.Project(), id)
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name}); err != nil {
		return "", fmt.Errorf("create topic %s: %w", name, err)
	}
	return name, nil
}

// SubscriptionConfig describes a subscription for CreateSubscription.
type SubscriptionConfig struct {
	// ID is the subscription's short name (in the client's project).
	ID string
	// Topic is the topic's short or full name.
	Topic string
	// PushEndpoint, when set, makes a push subscription to this URL.
	PushEndpoint string
	// Unwrapped pushes the raw data instead of the JSON envelope; WriteMetadata then adds
	// the message id, publish time and attributes as headers.
	Unwrapped, WriteMetadata bool
	// AckDeadline is the ack deadline (10 s to 600 s; 0 means 10 s).
	AckDeadline time.Duration
	// DeadLetterTopic, when set, adds a dead-letter policy to this topic (short or full
	// name) with MaxDeliveryAttempts (5 to 100; 0 means 5).
	DeadLetterTopic     string
	MaxDeliveryAttempts int
	// MinBackoff and MaxBackoff, when either is set, add a retry policy.
	MinBackoff, MaxBackoff time.Duration
	// Ordered turns message ordering on: one outstanding message per ordering key.
	Ordered bool
}

// CreateSubscription creates a subscription as cfg describes and returns its full name.
func CreateSubscription(ctx context.Context, c *pubsub.Client, cfg SubscriptionConfig) (string, error) {
	project := c.Project()
	full := func(kind, n string) string {
		if strings.HasPrefix(n, "projects/") {
			return n
		}
		return "projects/" + project + "/" + kind + "/" + n
	}
	sub := &pubsubpb.Subscription{
		Name:  SubscriptionName(project, cfg.ID),
		Topic: full("topics", cfg.Topic),

		EnableMessageOrdering: cfg.Ordered,
	}
	if cfg.AckDeadline > 0 {
		sub.AckDeadlineSeconds = int32(cfg.AckDeadline / time.Second)
	}
	if cfg.PushEndpoint != "" {
		pc := &pubsubpb.PushConfig{PushEndpoint: cfg.PushEndpoint}
		if cfg.Unwrapped {
			pc.Wrapper = &pubsubpb.PushConfig_NoWrapper_{NoWrapper: &pubsubpb.PushConfig_NoWrapper{WriteMetadata: cfg.WriteMetadata}}
		} else {
			pc.Wrapper = &pubsubpb.PushConfig_PubsubWrapper_{PubsubWrapper: &pubsubpb.PushConfig_PubsubWrapper{}}
		}
		sub.PushConfig = pc
	}
	if cfg.DeadLetterTopic != "" {
		n := cfg.MaxDeliveryAttempts
		if n == 0 {
			n = 5
		}
		sub.DeadLetterPolicy = &pubsubpb.DeadLetterPolicy{
			DeadLetterTopic:     full("topics", cfg.DeadLetterTopic),
			MaxDeliveryAttempts: int32(n),
		}
	}
	if cfg.MinBackoff > 0 || cfg.MaxBackoff > 0 {
		sub.RetryPolicy = &pubsubpb.RetryPolicy{
			MinimumBackoff: durationpb.New(cfg.MinBackoff),
			MaximumBackoff: durationpb.New(cfg.MaxBackoff),
		}
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, sub); err != nil {
		return "", fmt.Errorf("create subscription %s: %w", sub.Name, err)
	}
	return sub.Name, nil
}

// DeadLetter creates a dead-letter topic and a pull subscription on it, both named id in the
// client's project, and returns their full names: where a dead-letter policy sends messages,
// and where a test (or redrive) reads them back.
func DeadLetter(ctx context.Context, c *pubsub.Client, id string) (topic, sub string, err error) {
	if topic, err = CreateTopic(ctx, c, id); err != nil {
		return "", "", err
	}
	if sub, err = CreateSubscription(ctx, c, SubscriptionConfig{ID: id, Topic: topic, AckDeadline: 10 * time.Second}); err != nil {
		return "", "", err
	}
	return topic, sub, nil
}

// PublishOrdered publishes one message with an ordering key to topic and waits for its id.
func PublishOrdered(ctx context.Context, c *pubsub.Client, topic, key string, data []byte, attrs map[string]string) (string, error) {
	p := c.Publisher(topic)
	p.EnableMessageOrdering = true
	defer p.Stop()
	return p.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs, OrderingKey: key}).Get(ctx)
}

// Publish publishes one message to topic (short or full name) and waits for its id.
func Publish(ctx context.Context, c *pubsub.Client, topic string, data []byte, attrs map[string]string) (string, error) {
	p := c.Publisher(topic)
	defer p.Stop()
	return p.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var shared struct {
	mu  sync.Mutex
	e   *Emulator
	err error
}

// Shared returns the emulator shared by every test of the binary, starting it on first use
// (skipping the test when the emulator is not installed, failing it under CI=true). Call
// StopShared from TestMain after m.Run to stop it.
func Shared(t testing.TB) *Emulator {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.e == nil && shared.err == nil {
		shared.e, shared.err = StartProcess()
	}
	if shared.err != nil {
		unavailable(t, shared.err, os.Getenv)
		return nil
	}
	return shared.e
}

// Run runs the tests of m, then stops the emulator Shared started, if any, and returns the
// exit code: the whole TestMain of a package whose tests use Shared is
//
//	func TestMain(m *testing.M) { os.Exit(pubsubemu.Run(m)) }
func Run(m *testing.M) int {
	defer StopShared()
	return m.Run()
}

// StopShared stops the emulator Shared started, if any.
func StopShared() {
	shared.mu.Lock()
	e := shared.e
	shared.e = nil
	shared.mu.Unlock()
	if e != nil {
		e.Stop()
	}
}

// InProcess returns a client of project on pstest, the Pub/Sub client library's in-process
// fake, closed when t ends: for tests that publish but need nothing of the real emulator
// (ordering, dead-letter, push), and start in no time.
func InProcess(t testing.TB, project string) *pubsub.Client {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := pubsub.NewClient(context.Background(), project, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
