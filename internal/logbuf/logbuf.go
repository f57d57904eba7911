// Package logbuf is a byte buffer that concurrent writers and a reader can share: the sink
// of a test's logger while handlers run in other goroutines, or of a child process's output
// while the test reads it.
package logbuf

import (
	"bytes"
	"sync"
)

// Buffer collects writes safely for concurrent use. Its zero value is empty, without limit.
type Buffer struct {
	// Limit, when positive, is the most bytes kept: later writes are dropped (and reported
	// as written), so that a chatty writer cannot grow it without bound.
	Limit int

	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p, or drops it once Limit bytes are held; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Limit > 0 && b.b.Len() >= b.Limit {
		return len(p), nil
	}
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Len returns the number of bytes held.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}
