package gateway

import (
	"context"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/clockrpc"
	"github.com/selfserve/selfserve/services/kit/locale"
)

// clockFanOut serves GET /v1/clock and POST /v1/clock:advance in the gateway:
// the operator moves one business time, but each service keeps its own clock.
// The services check the caller is an operator; the fan-out only forwards.
type clockFanOut struct {
	operatorv1.UnimplementedClockServiceServer
	commerce operatorv1.ClockServiceClient
	// Every service, in the order AdvanceClock moves them: commerce last,
	// so that its lifecycle jobs run when licensing and billing already
	// stand at the new time.
	order []namedClock
}

type namedClock struct {
	name   string
	client operatorv1.ClockServiceClient
}

func newClockFanOut(b backends) *clockFanOut {
	commerce := operatorv1.NewClockServiceClient(b.commerce)
	return &clockFanOut{commerce: commerce, order: []namedClock{
		{"licensing", operatorv1.NewClockServiceClient(b.licensing)},
		{"billing", operatorv1.NewClockServiceClient(b.billing)},
		{"commerce", commerce},
	}}
}

// GetClock answers commerce's clock: it is the one the subscription
// lifecycle runs on.
func (f *clockFanOut) GetClock(ctx context.Context, req *operatorv1.GetClockRequest) (*operatorv1.Clock, error) {
	return f.commerce.GetClock(forward(ctx), req)
}

// AdvanceClock moves every service to one instant: the latest of their clocks
// plus the duration (or until). Each service is told "until" that instant, so
// a retried call moves nothing twice.
func (f *clockFanOut) AdvanceClock(ctx context.Context, req *operatorv1.AdvanceClockRequest) (*operatorv1.Clock, error) {
	// Refuse a bad request before calling anyone. Only the bound on "until"
	// depends on the clocks; it is checked again below.
	if _, err := clockrpc.Target(probeNow(req), req); err != nil {
		return nil, err
	}
	ctx = forward(ctx)
	var latest time.Time
	for _, s := range f.order {
		c, err := s.client.GetClock(ctx, &operatorv1.GetClockRequest{})
		if err != nil {
			return nil, err
		}
		if now := c.GetNow().AsTime(); now.After(latest) {
			latest = now
		}
	}
	target, err := clockrpc.Target(latest, req)
	if err != nil {
		return nil, err
	}
	// An "until" already passed still brings the services that lag behind up
	// to the others, so that they all stand on the same instant.
	if target.Before(latest) {
		target = latest
	}
	until := &operatorv1.AdvanceClockRequest{Until: timestamppb.New(target)}
	var last *operatorv1.Clock
	names := make([]string, 0, len(f.order))
	for _, s := range f.order {
		c, err := s.client.AdvanceClock(ctx, until)
		if err != nil {
			return nil, err
		}
		last = c
		names = append(names, s.name)
	}
	return &operatorv1.Clock{Name: "clock", Mode: last.GetMode(), Now: timestamppb.New(target), Services: names}, nil
}

// probeNow is a "now" that lets clockrpc.Target check a request's shape
// without the clocks: the time asked for, or nothing for a duration.
func probeNow(req *operatorv1.AdvanceClockRequest) time.Time {
	if u := req.GetUntil(); u != nil {
		return u.AsTime()
	}
	return time.Time{}
}

// forward passes the caller's token and language on to the services. The
// runtime put the request's headers in the incoming metadata.
func forward(ctx context.Context) context.Context {
	out := metadata.MD{}
	for _, k := range []string{"authorization", locale.Header} {
		if v := metadata.ValueFromIncomingContext(ctx, k); len(v) > 0 {
			out.Set(k, v[0])
		}
	}
	return metadata.NewOutgoingContext(ctx, out)
}
