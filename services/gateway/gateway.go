// Package gateway is the JSON edge of selfserve (API.md §3): a grpc-gateway
// mux that turns HTTP/JSON calls into gRPC calls on the licensing, commerce
// and billing services, plus the operator clock fan-out, /healthz and
// /openapi.json.
//
// The gateway verifies nothing itself: it passes the bearer token on and every
// service checks it (API.md §2).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"google.golang.org/grpc"

	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/ratelimit"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// Config says where the services are.
type Config struct {
	LicensingAddr, CommerceAddr, BillingAddr string // host:port of the three gRPC services
	Logger                                   *slog.Logger
	// Limits are the edge's token buckets per organization and per caller
	// (nil: none). Signer, when set, verifies tokens for them, so that
	// operators are exempt and callers are counted by who they are.
	Limits *ratelimit.Limiter
	Signer *auth.Signer
}

// Gateway is the JSON edge over one long-lived connection per service.
type Gateway struct {
	log     *slog.Logger
	conns   backends
	handler http.Handler

	closeOnce sync.Once
	closeErr  error
}

// backends are the connections to the three services, named as /healthz and
// the clock answer name them.
type backends struct {
	licensing, commerce, billing *grpc.ClientConn
}

func (b backends) each() []namedConn {
	return []namedConn{{"licensing", b.licensing}, {"commerce", b.commerce}, {"billing", b.billing}}
}

type namedConn struct {
	name string
	conn *grpc.ClientConn
}

// New dials the three services and builds the handler. Dialing is lazy: a
// service that is down makes its calls fail with 503, not New.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{log: log}
	var err error
	for _, d := range []struct {
		name, addr string
		conn       **grpc.ClientConn
	}{
		{"licensing", cfg.LicensingAddr, &g.conns.licensing},
		{"commerce", cfg.CommerceAddr, &g.conns.commerce},
		{"billing", cfg.BillingAddr, &g.conns.billing},
	} {
		if d.addr == "" {
			err = fmt.Errorf("gateway: no address for %s", d.name)
			break
		}
		if *d.conn, err = serve.Dial(d.addr); err != nil {
			err = fmt.Errorf("gateway: dial %s at %s: %w", d.name, d.addr, err)
			break
		}
	}
	if err != nil {
		g.Close()
		return nil, err
	}
	mux, err := newMux(ctx, g.conns)
	if err != nil {
		g.Close()
		return nil, err
	}
	// The trace starts here (or goes on from the caller's traceparent), so
	// that the request's log line and every call to a service are in it.
	g.handler = otelhttp.NewHandler(logRequests(log, rateLimit(mux, cfg.Limits, cfg.Signer, limitBody(mux, checkRequest(mux, bodyMask(mux, mux)), serve.MaxRequestBytes))), "gateway",
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/metrics" }))
	return g, nil
}

// Handler is the HTTP handler of the edge.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close closes the connections to the services. It may be called more than
// once (Serve calls it too).
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		var errs []error
		for _, c := range g.conns.each() {
			if c.conn != nil {
				errs = append(errs, c.conn.Close())
			}
		}
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

// Serve serves HTTP on lis until ctx is done, then shuts down, letting
// requests in flight finish for at most grace, and closes the connections.
func (g *Gateway) Serve(ctx context.Context, lis net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           g.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	g.log.Info("http serving", "addr", lis.Addr().String())

	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		// The parent context is done; the grace period needs its own.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
		if err = srv.Shutdown(sctx); err != nil {
			g.log.Warn("graceful shutdown timed out; closing")
			err = srv.Close()
		}
		cancel()
		if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, g.Close())
}
