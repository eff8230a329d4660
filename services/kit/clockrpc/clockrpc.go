// Package clockrpc serves selfserve.operator.v1.ClockService for one service:
// reading its business clock and, under --clock=manual, moving it and running
// the jobs that came due.
package clockrpc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// MaxAdvance is the longest single move of the clock.
const MaxAdvance = 3660 * 24 * time.Hour

// Open returns the business clock of a store for mode "system" or "manual".
// A manual clock starts where it last stood (or at the current time on first
// start) and saves every move in the store.
func Open(mode string, db kv.DB) (clock.Clock, error) {
	switch mode {
	case "", "system":
		return clock.System{}, nil
	case "manual":
		at, err := kv.LoadClock(db)
		if err != nil {
			return nil, err
		}
		if at.IsZero() {
			at = time.Now().UTC().Truncate(time.Second)
			if err := kv.SaveClock(db, at); err != nil {
				return nil, err
			}
		}
		m := clock.NewManual(at, func(t time.Time) error { return kv.SaveClock(db, t) })
		// Replicas of a service on etcd share its clock: a move saved by one
		// moves the others.
		kv.WatchClock(db, m.Observe)
		return m, nil
	}
	return nil, fmt.Errorf("clock must be system or manual, not %q", mode)
}

// Server implements ClockService for one service.
type Server struct {
	operatorv1.UnimplementedClockServiceServer
	Service string
	Clock   clock.Clock
	// RunDue runs every job due at now; nil when the service has none yet.
	RunDue func(ctx context.Context, now time.Time) error
}

func (s *Server) clock() *operatorv1.Clock {
	mode := operatorv1.Clock_SYSTEM
	if _, ok := s.Clock.(*clock.Manual); ok {
		mode = operatorv1.Clock_MANUAL
	}
	return &operatorv1.Clock{Name: "clock", Mode: mode, Now: timestamppb.New(s.Clock.Now()), Services: []string{s.Service}}
}

func operatorOnly(ctx context.Context) error {
	if !auth.FromContext(ctx).IsOperator() {
		return errs.Denied("only an operator may read or move the clock")
	}
	return nil
}

// GetClock returns the business clock.
func (s *Server) GetClock(ctx context.Context, req *operatorv1.GetClockRequest) (*operatorv1.Clock, error) {
	if err := operatorOnly(ctx); err != nil {
		return nil, err
	}
	if req.GetName() != "" && req.GetName() != "clock" {
		return nil, errs.NotFound(req.GetName())
	}
	return s.clock(), nil
}

// moving makes reading a clock and moving it one step, so that concurrent
// moves by duration add up instead of landing on the same instant. Moves are
// rare and short; one lock for every clock of the process is enough.
var moving sync.Mutex

// AdvanceClock moves a manual clock and runs what came due before answering.
func (s *Server) AdvanceClock(ctx context.Context, req *operatorv1.AdvanceClockRequest) (*operatorv1.Clock, error) {
	if err := operatorOnly(ctx); err != nil {
		return nil, err
	}
	m, ok := s.Clock.(*clock.Manual)
	if !ok {
		return nil, errs.New(errs.ClockNotManual, "the clock runs in system mode; start with --clock=manual")
	}
	now, err := advance(m, req)
	if err != nil {
		return nil, err
	}
	if s.RunDue != nil {
		if err := s.RunDue(ctx, now); err != nil {
			return nil, err
		}
	}
	return s.clock(), nil
}

func advance(m *clock.Manual, req *operatorv1.AdvanceClockRequest) (time.Time, error) {
	moving.Lock()
	defer moving.Unlock()
	target, err := Target(m.Now(), req)
	if err != nil {
		return time.Time{}, err
	}
	return m.AdvanceTo(target)
}

// Target checks an AdvanceClock request and returns the time it moves to.
func Target(now time.Time, req *operatorv1.AdvanceClockRequest) (time.Time, error) {
	switch {
	case req.GetDuration() != nil && req.GetUntil() != nil:
		return time.Time{}, errs.Field("duration", "give duration or until, not both")
	case req.GetUntil() != nil:
		if err := req.GetUntil().CheckValid(); err != nil {
			return time.Time{}, errs.Field("until", "until is not a valid time")
		}
		t := req.GetUntil().AsTime()
		if t.Sub(now) > MaxAdvance {
			return time.Time{}, errs.Field("until", "until is more than %d days ahead", int(MaxAdvance.Hours()/24))
		}
		return t, nil
	case req.GetDuration() != nil:
		if err := req.GetDuration().CheckValid(); err != nil {
			return time.Time{}, errs.Field("duration", "duration is not valid")
		}
		d := req.GetDuration().AsDuration()
		if d <= 0 || d > MaxAdvance {
			return time.Time{}, errs.Field("duration", "duration must be more than 0 and at most %d days", int(MaxAdvance.Hours()/24))
		}
		return now.Add(d), nil
	}
	return time.Time{}, errs.Field("duration", "duration is required")
}
