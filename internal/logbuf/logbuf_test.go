package logbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/prreconciler/prreconciler/internal/logbuf"
)

func TestConcurrentWrites(t *testing.T) {
	for _, tt := range []struct {
		name  string
		limit int
		want  int
	}{
		{"no limit", 0, 100 * 10},
		{"limit", 95, 100}, // writes of 10 bytes until 95 are held: 10 of them
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &logbuf.Buffer{Limit: tt.limit}
			var wg sync.WaitGroup
			for range 100 {
				wg.Go(func() {
					if n, err := b.Write([]byte("0123456789")); n != 10 || err != nil {
						t.Errorf("Write = %d, %v", n, err)
					}
					_ = b.String()
				})
			}
			wg.Wait()
			if b.Len() != tt.want || len(b.String()) != tt.want || strings.Trim(b.String(), "0123456789") != "" {
				t.Errorf("holds %d bytes, want %d", b.Len(), tt.want)
			}
		})
	}
}

func ExampleBuffer() {
	var b logbuf.Buffer
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	fmt.Println(strings.Count(b.String(), "\n"))
	// Output: 3
}
