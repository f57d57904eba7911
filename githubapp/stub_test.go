package githubapp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A minimal GitHub stand-in for the unit tests of this package: just the routes the transport
// stack touches, with counters and failure injection. The shared fake (githubtest)
// is exercised in fake_test.go.

const (
	stubToken  = "POST /app/installations/{id}/access_tokens"
	stubLookup = "GET /repos/{owner}/{repo}/installation"
	stubPull   = "GET /repos/{owner}/{repo}/pulls/{n}"
	stubPatch  = "PATCH /repos/{owner}/{repo}/check-runs/{id}"
	stubCreate = "POST /repos/{owner}/{repo}/check-runs"
)

type failure struct {
	status int
	header http.Header
	body   string
}

type stub struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	counts map[string]int
	fails  map[string][]failure
	bodies map[string][]string
	repos  map[string]int64 // lower-case owner/repo -> installation
	insts  map[int64]bool
	seen   map[string]chan struct{} // closed when the route has been answered once
}

var (
	keyOnce sync.Once
	keyPEM  []byte
)

func testKey(t *testing.T) []byte {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	})
	return keyPEM
}

func newStub(t *testing.T, prefix string) *stub {
	s := &stub{t: t, counts: map[string]int{}, fails: map[string][]failure{}, bodies: map[string][]string{},
		repos: map[string]int64{}, insts: map[int64]bool{}, seen: map[string]chan struct{}{}}
	mux := http.NewServeMux()
	handle := func(route string, h func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			s.mu.Lock()
			s.counts[route]++
			s.bodies[route] = append(s.bodies[route], string(b))
			var f *failure
			if q := s.fails[route]; len(q) > 0 {
				f = &q[0]
				s.fails[route] = q[1:]
			}
			seen := s.seen[route]
			delete(s.seen, route)
			s.mu.Unlock()
			if seen != nil {
				defer close(seen) // once the answer is written
			}
			if f != nil {
				for k, v := range f.header {
					w.Header()[k] = v
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(f.status)
				io.WriteString(w, f.body)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			h(w, r)
		})
	}
	handle(stubToken, func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		s.mu.Lock()
		ok := s.insts[id]
		s.mu.Unlock()
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") || !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"Not Found"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"token": fmt.Sprintf("ghs_%d", id), "expires_at": time.Now().Add(time.Hour).UTC()})
	})
	handle(stubLookup, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		id, ok := s.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
		s.mu.Unlock()
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") || !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"Not Found"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id": id})
	})
	authed := func(h func(w http.ResponseWriter, r *http.Request)) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.Header.Get("Authorization"), "token ghs_") {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"message":"Bad credentials"}`)
				return
			}
			h(w, r)
		}
	}
	handle(stubPull, authed(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		json.NewEncoder(w).Encode(map[string]any{"number": n})
	}))
	handle(stubPatch, authed(func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		json.NewEncoder(w).Encode(map[string]any{"id": id, "name": "x"})
	}))
	handle(stubCreate, authed(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"id": 1, "name": "x"})
	}))
	var h http.Handler = mux
	if prefix != "" {
		h = http.StripPrefix(prefix, mux)
	}
	s.srv = httptest.NewServer(h)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stub) install(owner, repo string, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[strings.ToLower(owner+"/"+repo)] = id
	s.insts[id] = true
}

func (s *stub) failNext(route string, n, status int, header http.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails[route] = append(s.fails[route], failure{status, header, body})
	}
}

func (s *stub) secondary(route string, n int, retryAfter string) {
	s.failNext(route, n, http.StatusForbidden, http.Header{"Retry-After": {retryAfter}, "X-Ratelimit-Remaining": {"4000"}},
		`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`)
}

// notify returns a channel closed once the next request of route has been answered.
func (s *stub) notify(route string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(chan struct{})
	s.seen[route] = c
	return c
}

func (s *stub) count(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[route]
}

func (s *stub) body(route string, i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[route][i]
}
