// Package webhooks sends an organization's events to its webhook endpoints:
// it fans recorded events out into deliveries, claims the deliveries at the
// head of each resource's queue, POSTs them signed, and settles each attempt
// (delivered, due again on the retry schedule, or given up), all through the
// commerce store, so that deliveries survive restarts and several replicas
// share the work without sending one delivery twice at once.
package webhooks

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/metrics"
	"github.com/selfserve/selfserve/services/kit/webhook"
)

// Defaults of a Sender.
const (
	// Parallel bounds the attempts in flight at once.
	Parallel = 8
	// Lease is how long a claimed delivery is held for its attempt: the
	// attempt's timeout and a margin. A sender killed mid-attempt leaves
	// the delivery to be taken again after it.
	Lease = webhook.Timeout + 5*time.Second
	// fanOutBatch bounds the events of one fan-out transaction.
	fanOutBatch = 100
)

// errEventGone settles a delivery whose event the feed no longer holds.
var errEventGone = errors.New("the event is no longer in the audit feed")

// Sender delivers the events of a commerce store to their endpoints.
type Sender struct {
	Store  *store.Store
	Client *http.Client
	// Describe fills an event's description before it is sent (English);
	// nil sends events without one.
	Describe func(ctx context.Context, e *commercev1.Event)
	// Now is the wall clock of the schedule and the signatures; nil is
	// time.Now. Deliveries run on real time whatever the business clock.
	Now func() time.Time
	Log *slog.Logger

	once     sync.Once
	wake     chan struct{}
	parallel int
	lease    time.Duration
}

func (s *Sender) init() {
	s.once.Do(func() {
		s.wake = make(chan struct{}, 1)
		s.parallel, s.lease = Parallel, Lease
		if s.Now == nil {
			s.Now = time.Now
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Notify makes the running sender look for work at once.
func (s *Sender) Notify() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx is done, a round every interval or when notified.
func (s *Sender) Run(ctx context.Context, every time.Duration) {
	s.init()
	defer metrics.AddGauge(metrics.Gauge{Desc: metrics.WebhooksQueued, Labels: []string{"commerce"}, Read: s.backlog})()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if _, err := s.Round(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("webhook round failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.wake:
		}
	}
}

// backlog reads the queued-deliveries gauge.
func (s *Sender) backlog() (float64, bool) {
	var n int
	err := s.Store.DB.View(func(tx kv.Tx) error {
		f, q := store.WebhookBacklog(tx)
		n = f + q
		return nil
	})
	return float64(n), err == nil
}

// Round fans out the events recorded since the last round, then makes one
// attempt of each delivery due now (at most Parallel at once), and reports
// how many attempts it made.
func (s *Sender) Round(ctx context.Context) (int, error) {
	s.init()
	for {
		waiting := false
		if err := s.Store.DB.View(func(tx kv.Tx) error { waiting = store.Unfanned(tx); return nil }); err != nil || !waiting {
			if err != nil {
				return 0, err
			}
			break
		}
		var n int
		err := s.Store.DB.Update(func(tx kv.Tx) (err error) {
			n, err = store.FanOut(tx, s.Now(), fanOutBatch)
			return err
		})
		if err != nil {
			return 0, err
		}
		if n < fanOutBatch {
			break
		}
	}
	attempts, err := s.claim()
	if err != nil || len(attempts) == 0 {
		return 0, err
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(attempts))
	for _, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- s.attempt(ctx, a)
		}()
	}
	wg.Wait()
	close(errc)
	var errList []error
	for err := range errc {
		errList = append(errList, err)
	}
	return len(attempts), errors.Join(errList...)
}

// claim takes up to Parallel due deliveries, each in the transaction that
// holds it, so that a conflict over one does not lose the others.
func (s *Sender) claim() ([]*store.Attempt, error) {
	now := s.Now()
	var refs []store.QueueRef
	err := s.Store.DB.View(func(tx kv.Tx) (err error) {
		refs, err = store.DueDeliveries(tx, now, s.parallel)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []*store.Attempt
	for _, ref := range refs {
		var a *store.Attempt
		err := s.Store.DB.Update(func(tx kv.Tx) (err error) {
			a, _, err = store.Claim(tx, ref, now, s.lease)
			return err
		})
		if err != nil {
			return out, err
		}
		if a != nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// attempt sends one claimed delivery and settles it.
func (s *Sender) attempt(ctx context.Context, a *store.Attempt) error {
	o := store.Outcome{Err: errEventGone}
	if a.Event != nil {
		if s.Describe != nil {
			s.Describe(ctx, a.Event)
		}
		body, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(a.Event)
		if err != nil {
			return err
		}
		now := s.Now()
		o.Status, o.Err = webhook.Send(ctx, s.Client, webhook.Request{
			URL: a.Webhook.GetUrl(), Secret: a.Webhook.GetSecret(),
			Event: a.Event.GetName(), Delivery: a.Delivery.GetName(), Body: body,
		}, now)
	}
	if ctx.Err() != nil {
		// Shutting down: the lease runs out and another round retries.
		return nil
	}
	o.At = s.Now()
	next := func(start time.Time, n int) (time.Time, bool) {
		if a.Event == nil {
			return time.Time{}, false
		}
		return webhook.NextAttempt(start, o.At, n)
	}
	var state commercev1.WebhookDelivery_State
	err := s.Store.DB.Update(func(tx kv.Tx) (err error) {
		state, err = store.Settle(tx, a, o, next)
		return err
	})
	if err != nil {
		return err
	}
	outcome := map[commercev1.WebhookDelivery_State]string{
		commercev1.WebhookDelivery_DELIVERED: "delivered",
		commercev1.WebhookDelivery_PENDING:   "retry",
		commercev1.WebhookDelivery_FAILED:    "failed",
	}[state]
	if outcome != "" {
		metrics.WebhookAttempts.WithLabelValues(outcome).Inc()
	}
	if o.Err != nil {
		s.Log.Info("webhook delivery failed", "delivery", a.Delivery.GetName(), "status", o.Status, "outcome", outcome, "err", o.Err)
	}
	return nil
}
