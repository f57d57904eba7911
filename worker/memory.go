package worker

import (
	"container/list"
	"context"
	"sync"
)

// lru is a bounded map from string keys to ints, evicting the least recently used entry.
// It is safe for concurrent use.
type lru struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type lruEntry struct {
	key string
	val int
}

func newLRU(max int) *lru {
	if max <= 0 {
		max = 1
	}
	return &lru{max: max, ll: list.New(), items: make(map[string]*list.Element)}
}

// add adds delta to the value of key (0 when absent) and returns the new value.
func (c *lru) add(key string, delta int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		ent := e.Value.(*lruEntry)
		ent.val += delta
		return ent.val
	}
	c.items[key] = c.ll.PushFront(&lruEntry{key: key, val: delta})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*lruEntry).key)
	}
	return delta
}

// has reports whether key is present, and makes it the most recently used.
func (c *lru) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if ok {
		c.ll.MoveToFront(e)
	}
	return ok
}

// remove forgets key.
func (c *lru) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.Remove(e)
		delete(c.items, key)
	}
}

// flights runs one piece of work per key at a time, and lets every concurrent caller of the
// same key wait for its answer. It is a singleflight whose work is detached from the first
// caller's context. The work is cancelled only when every waiter has gone. The last one to
// go waits for the work to stop, so its answer is the work's own.
type flights struct {
	mu    sync.Mutex
	calls map[string]*flight
	// onJoin, when set, is called with the key each time a caller joins a flight that
	// another caller started. Tests set it, because joining is otherwise not observable.
	onJoin func(key string)
}

type flight struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int
	rerun   bool
	o       Outcome
	err     error
}

// do runs fn once for all concurrent callers of key. rerun says whether a flight that this
// call starts is a rerun's. shared is true for a caller that joined a flight another caller
// started, and joinedRerun reports whether that flight is a rerun's.
func (g *flights) do(ctx context.Context, key string, rerun bool, fn func(context.Context) (Outcome, error)) (o Outcome, shared, joinedRerun bool, err error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*flight)
	}
	c, shared := g.calls[key]
	if !shared {
		// Detached from the first caller, so that its going does not stop the others' work.
		// It keeps that caller's deadline, the message's, which the work must not outlive.
		var (
			workCtx context.Context
			cancel  context.CancelFunc
		)
		if dl, ok := ctx.Deadline(); ok {
			workCtx, cancel = context.WithDeadline(context.WithoutCancel(ctx), dl)
		} else {
			workCtx, cancel = context.WithCancel(context.WithoutCancel(ctx))
		}
		c = &flight{done: make(chan struct{}), cancel: cancel, rerun: rerun}
		g.calls[key] = c
		go func() {
			defer cancel()
			c.o, c.err = fn(workCtx)
			g.mu.Lock()
			delete(g.calls, key)
			g.mu.Unlock()
			close(c.done)
		}()
	}
	c.waiters++
	onJoin := g.onJoin
	g.mu.Unlock()
	if shared && onJoin != nil {
		onJoin(key)
	}

	joinedRerun = shared && c.rerun
	select {
	case <-c.done:
		return c.o, shared, joinedRerun, c.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	c.waiters--
	last := c.waiters == 0
	if last {
		c.cancel()
	}
	g.mu.Unlock()
	if last {
		<-c.done
		return c.o, shared, joinedRerun, c.err
	}
	return OutcomeRetry, shared, joinedRerun, context.Cause(ctx)
}
