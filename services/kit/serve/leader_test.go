package serve_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/kv/etcdembed"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// replica is one service process of the election test.
type replica struct {
	svc    *serve.Service
	cancel context.CancelFunc
	done   chan struct{}
	runs   atomic.Int64 // ticks of its background task
	db     *kv.Etcd
}

func startReplica(t *testing.T, endpoints []string) *replica {
	t.Helper()
	cli, err := kv.DialEtcd(endpoints, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	db, err := kv.OpenEtcd(cli, kv.ServicePrefix("elect"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := serve.NewService(serve.ServiceConfig{Name: "elect", Domain: "elect.selfserve", DB: db.CloseClient(), Signer: newSigner(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{svc: svc, done: make(chan struct{}), db: db}
	svc.Go(func(ctx context.Context) {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
				r.runs.Add(1)
			}
		}
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		svc.Serve(ctx, lis, time.Second)
	}()
	t.Cleanup(func() { r.stop(); svc.Close() })
	return r
}

func (r *replica) stop() {
	r.cancel()
	<-r.done
}

// leaders waits until exactly one replica leads, and returns it.
func leader(t *testing.T, rs []*replica, within time.Duration) *replica {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var lead []*replica
		for _, r := range rs {
			if r.svc.Leading() {
				lead = append(lead, r)
			}
		}
		if len(lead) == 1 {
			return lead[0]
		}
		if len(lead) > 1 {
			t.Fatalf("%d replicas lead at once", len(lead))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no replica leads after %s", within)
	return nil
}

// On etcd the background work runs on one replica at a time and moves to
// another within seconds when the leader dies without a word (its etcd
// client gone, its lease left to expire) or stops.
func TestBackgroundWorkFollowsTheLeader(t *testing.T) {
	c, err := etcdembed.StartCluster(t.TempDir(), 1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rs := []*replica{startReplica(t, c.Endpoints()), startReplica(t, c.Endpoints()), startReplica(t, c.Endpoints())}
	first := leader(t, rs, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	for _, r := range rs {
		if r != first && r.runs.Load() != 0 {
			t.Fatalf("a follower ran the background task %d times", r.runs.Load())
		}
	}
	if first.runs.Load() == 0 {
		t.Fatal("the leader does not run the background task")
	}

	// The leader loses etcd without resigning: its lease expires.
	died := time.Now()
	first.db.Client().Close()
	var rest []*replica
	for _, r := range rs {
		if r != first {
			rest = append(rest, r)
		}
	}
	second := leader(t, rest, 3*serve.LeaderTTL+2*time.Second)
	t.Logf("failover after the leader's death: %s (lease %s)", time.Since(died).Round(10*time.Millisecond), serve.LeaderTTL)
	before := second.runs.Load()
	time.Sleep(200 * time.Millisecond)
	if second.runs.Load() == before {
		t.Fatal("the new leader does not run the background task")
	}
	if first.svc.Leading() {
		t.Fatal("the dead leader still believes it leads")
	}

	// A leader that stops resigns: the last replica takes over at once.
	stopped := time.Now()
	second.stop()
	var last *replica
	for _, r := range rest {
		if r != second {
			last = r
		}
	}
	leader(t, []*replica{last}, 2*time.Second)
	t.Logf("failover after a clean stop: %s", time.Since(stopped).Round(10*time.Millisecond))
}
