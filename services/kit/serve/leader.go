package serve

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/selfserve/selfserve/services/kit/kv"
)

// LeaderTTL is the lease of a service's leader on etcd: when the leading
// replica dies, another takes the background work over within about this
// long.
var LeaderTTL = 2 * time.Second

// runBackground runs the service's background tasks until ctx is done. On
// bbolt the one process runs them. On etcd, where replicas share the store,
// they run on one replica at a time: the one that won the service's leader
// election (concurrency.Election on a lease of LeaderTTL seconds under the
// service's prefix). When its lease ends (the process died or lost etcd)
// its tasks are stopped and another replica's campaign wins.
func (s *Service) runBackground(ctx context.Context, tasks []func(context.Context)) {
	e, ok := s.DB.(*kv.Etcd)
	if !ok {
		s.leading.Store(true)
		runAll(ctx, tasks)
		s.leading.Store(false)
		return
	}
	id := fmt.Sprintf("%s-%d-%d", hostname(), os.Getpid(), time.Now().UnixNano())
	ttl := max(int(LeaderTTL/time.Second), 1)
	for ctx.Err() == nil {
		sess, err := concurrency.NewSession(e.Client(), concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
		if err != nil {
			s.log.Warn("leader election: no session with etcd; retrying", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		el := concurrency.NewElection(sess, e.Prefix()+"!leader")
		if err := el.Campaign(ctx, id); err != nil {
			sess.Close()
			if ctx.Err() == nil {
				s.log.Warn("leader election: campaign failed; retrying", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		s.log.Info("leading the background work", "replica", id)
		s.leading.Store(true)
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-sess.Done():
			case <-lctx.Done():
			}
			cancel()
		}()
		runAll(lctx, tasks)
		cancel()
		s.leading.Store(false)
		rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
		el.Resign(rctx)
		rcancel()
		sess.Close()
		if ctx.Err() == nil {
			s.log.Warn("no longer leading the background work", "replica", id)
		}
	}
}

// Leading reports whether this replica runs the background work now (always
// true on bbolt once serving).
func (s *Service) Leading() bool { return s.leading.Load() }

func runAll(ctx context.Context, tasks []func(context.Context)) {
	var wg sync.WaitGroup
	for _, task := range tasks {
		wg.Add(1)
		go func() { defer wg.Done(); task(ctx) }()
	}
	wg.Wait()
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "replica"
	}
	return h
}
