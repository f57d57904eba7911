// Package cloudlogtest is an in-process fake of the Cloud Logging API's write path
// (LoggingServiceV2.WriteLogEntries, on gRPC) for tests that drive the real
// cloud.google.com/go/logging client: it keeps the entries it receives, and can fail or hang
// on demand. It is never linked into the production binary.
package cloudlogtest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	logpb "cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Server is the fake. Make one with NewServer or NewTestServer.
type Server struct {
	logpb.UnimplementedLoggingServiceV2Server

	addr    string
	srv     *grpc.Server
	stopped chan struct{}
	once    sync.Once

	mu       sync.Mutex
	entries  []*logpb.LogEntry
	requests int
	fail     codes.Code
	hang     chan struct{} // non-nil: writes wait until it is closed (or their context ends)
}

// NewServer starts a fake on a local port; Close stops it. It panics when it cannot listen, as
// httptest.NewServer does.
func NewServer() *Server {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("cloudlogtest: listen: %v", err))
	}
	s := &Server{addr: lis.Addr().String(), srv: grpc.NewServer(), stopped: make(chan struct{})}
	logpb.RegisterLoggingServiceV2Server(s.srv, s)
	go func() { _ = s.srv.Serve(lis) }()
	return s
}

// NewTestServer starts a fake that stops when the test ends.
func NewTestServer(t testing.TB) *Server {
	t.Helper()
	s := NewServer()
	t.Cleanup(s.Close)
	return s
}

// Close releases the writes left hanging and stops the server.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.stopped)
		s.srv.Stop()
	})
}

// Addr returns the fake's host:port.
func (s *Server) Addr() string { return s.addr }

// ClientOptions returns the options that point a logging client at the fake: its endpoint,
// no authentication, plaintext gRPC.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Fail makes every later write fail with code; codes.OK makes them succeed again.
func (s *Server) Fail(code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = code
}

// Hang makes every later write wait until Hang(false), its context ends, or the test ends.
func (s *Server) Hang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.hang == nil:
		s.hang = make(chan struct{})
	case !on && s.hang != nil:
		close(s.hang)
		s.hang = nil
	}
}

// Requests returns how many WriteLogEntries calls arrived, failed ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Entries returns the entries written so far, as the service would store them: each with its
// log name, resource and labels made whole from the request's defaults (an entry's own values
// win). The client's own diagnostic entries (log "diagnostic-log") are left out.
func (s *Server) Entries() []*logpb.LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*logpb.LogEntry, len(s.entries))
	for i, e := range s.entries {
		out[i] = proto.Clone(e).(*logpb.LogEntry)
	}
	return out
}

// WriteLogEntries implements LoggingServiceV2.
func (s *Server) WriteLogEntries(ctx context.Context, req *logpb.WriteLogEntriesRequest) (*logpb.WriteLogEntriesResponse, error) {
	s.mu.Lock()
	s.requests++
	hang, fail := s.hang, s.fail
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-s.stopped:
			return nil, status.Error(codes.Unavailable, "cloudlogtest: stopped")
		}
	}
	if fail != codes.OK {
		return nil, status.Errorf(fail, "cloudlogtest: failing with %s", fail)
	}
	var kept []*logpb.LogEntry
	for _, e := range req.GetEntries() {
		e = proto.Clone(e).(*logpb.LogEntry)
		if e.LogName == "" {
			e.LogName = req.GetLogName()
		}
		if isDiagnostic(e.LogName) {
			continue
		}
		if e.Resource == nil {
			e.Resource = req.GetResource()
		}
		if len(req.GetLabels()) > 0 {
			labels := make(map[string]string, len(req.GetLabels())+len(e.Labels))
			for k, v := range req.GetLabels() {
				labels[k] = v
			}
			for k, v := range e.Labels {
				labels[k] = v
			}
			e.Labels = labels
		}
		kept = append(kept, e)
	}
	s.mu.Lock()
	s.entries = append(s.entries, kept...)
	s.mu.Unlock()
	return &logpb.WriteLogEntriesResponse{}, nil
}

func isDiagnostic(logName string) bool {
	const suffix = "/logs/diagnostic-log"
	return len(logName) >= len(suffix) && logName[len(logName)-len(suffix):] == suffix
}
