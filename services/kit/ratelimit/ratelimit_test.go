package ratelimit

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/selfserve/selfserve/services/kit/errs"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newAt(cfg Config) (*Limiter, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	l := New(cfg)
	l.now = clk.now
	return l, clk
}

func TestBurstThenRate(t *testing.T) {
	l, clk := newAt(Config{CallerRate: 2, CallerBurst: 3})
	for i := range 3 {
		if ok, _ := l.Allow("acme", "acme/max"); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("acme", "acme/max")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("the 4th call: %v, wait %v; want refused, 500ms", ok, wait)
	}
	// A refused call takes no token: after the wait exactly one more passes.
	clk.t = clk.t.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("acme", "acme/max"); !ok {
		t.Fatal("refused after waiting as told")
	}
	if ok, _ := l.Allow("acme", "acme/max"); ok {
		t.Fatal("two calls passed on one refilled token")
	}
	// Another caller has a bucket of its own.
	if ok, _ := l.Allow("acme", "acme/nora"); !ok {
		t.Fatal("another caller was limited by max's calls")
	}
}

func TestOrganizationBucketSpansCallers(t *testing.T) {
	l, _ := newAt(Config{OrgRate: 1, OrgBurst: 4, CallerRate: 100, CallerBurst: 100})
	passed := 0
	for i := range 10 {
		if ok, _ := l.Allow("acme", "acme/u"+string(rune('a'+i))); ok {
			passed++
		}
	}
	if passed != 4 {
		t.Errorf("%d calls of 10 callers passed an organization burst of 4", passed)
	}
	if ok, _ := l.Allow("globex", "globex/u"); !ok {
		t.Error("one organization's flood limited another")
	}
	// A call refused by its caller's bucket does not spend the organization's.
	l2, _ := newAt(Config{OrgRate: 1, OrgBurst: 2, CallerRate: 1, CallerBurst: 1})
	l2.Allow("acme", "acme/max")
	for range 5 {
		l2.Allow("acme", "acme/max") // refused by max's bucket
	}
	if ok, _ := l2.Allow("acme", "acme/nora"); !ok {
		t.Error("max's refused calls spent the organization's tokens")
	}
}

func TestIdleBucketsAreDropped(t *testing.T) {
	l, clk := newAt(Defaults())
	for i := range 100 {
		l.Allow("acme", "acme/u"+string(rune(i)))
	}
	if n := l.Buckets(); n != 101 {
		t.Fatalf("%d buckets, want 101", n)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	l.Allow("globex", "globex/x")
	if n := l.Buckets(); n != 2 {
		t.Errorf("%d buckets after two idle minutes, want only the 2 in use", n)
	}
}

func TestOffAndRefuse(t *testing.T) {
	if New(Config{}) != nil {
		t.Error("a limiter with both rates 0")
	}
	var l *Limiter
	if ok, _ := l.Allow("a", "b"); !ok {
		t.Error("a nil limiter refused")
	}
	e := Refuse(1200 * time.Millisecond)
	if e.Reason != errs.RateLimited || e.Reason.Code != codes.ResourceExhausted || e.Metadata["retry_after"] != "2" {
		t.Errorf("Refuse: %v %v", e.Reason, e.Metadata)
	}
	if RetrySeconds(time.Millisecond) != 1 || RetrySeconds(3*time.Second) != 3 {
		t.Error("RetrySeconds rounds up to whole seconds, at least 1")
	}
}
