// Package serve builds the gRPC server every selfserve service runs: one
// interceptor chain in a fixed order (recovery, logging, auth, errors), health
// and reflection, and a graceful shutdown.
package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/metrics"
	"github.com/selfserve/selfserve/services/kit/ratelimit"
	"github.com/selfserve/selfserve/services/kit/telemetry"
)

// MaxRequestBytes bounds the size of one request message.
const MaxRequestBytes = 1 << 20

// streamWorkers is how many goroutines wait for calls: about the calls in
// flight of a busy service (each call blocked on a commit or on another
// service holds one).
const streamWorkers = 64

// Server is a gRPC server with its health service.
type Server struct {
	*grpc.Server
	Health *health.Server
	name   string
	log    *slog.Logger
	limits *atomic.Pointer[ratelimit.Limiter]
}

// Limit sets the token buckets that every authenticated call of a person
// must pass (per organization and per caller); operators and services are
// never limited. nil, the default, limits nothing.
func (s *Server) Limit(l *ratelimit.Limiter) { s.limits.Store(l) }

// NewServer returns a server whose errors carry domain (e.g.
// "licensing.selfserve") and whose callers are verified with signer.
// Register the services, then call Serve.
func NewServer(name, domain string, log *slog.Logger, signer *auth.Signer) *Server {
	limits := &atomic.Pointer[ratelimit.Limiter]{}
	chain := interceptors{domain: domain, log: log, signer: signer, limits: limits}
	s := grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		// Calls run on long-lived goroutines whose stacks have grown to what
		// a handler needs, instead of a new goroutine per call that grows
		// (copies) its stack every time; beyond that many calls in flight,
		// a call gets a goroutine of its own as before.
		grpc.NumStreamWorkers(streamWorkers),
		// A span of every call, child of the caller's (telemetry).
		grpc.StatsHandler(telemetry.ServerHandler()),
		grpc.ChainUnaryInterceptor(chain.recovery, metrics.GRPCServer.UnaryServerInterceptor(), chain.logging, chain.auth, chain.errors),
		grpc.ChainStreamInterceptor(chain.streamRecovery, metrics.GRPCServer.StreamServerInterceptor(), chain.streamLogging, chain.streamAuth, chain.streamErrors),
		// Without it grpc answers a method nobody registered with a bare
		// status, no ErrorInfo; this one runs the stream interceptors first.
		grpc.UnknownServiceHandler(chain.unknown),
	)
	h := health.NewServer()
	healthpb.RegisterHealthServer(s, h)
	reflection.Register(s)
	return &Server{Server: s, Health: h, name: name, log: log, limits: limits}
}

// Serve serves on lis until ctx is done, then stops gracefully, waiting at
// most grace for calls in flight before cutting them off.
func (s *Server) Serve(ctx context.Context, lis net.Listener, grace time.Duration) error {
	for name := range s.GetServiceInfo() {
		s.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	// Every method's series exist from the start, at zero.
	metrics.GRPCServer.InitializeMetrics(s.Server)
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	errc := make(chan error, 1)
	go func() { errc <- s.Server.Serve(lis) }()
	s.log.Info("grpc serving", "addr", lis.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Health.Shutdown()
	done := make(chan struct{})
	go func() { s.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		s.log.Warn("graceful stop timed out; stopping")
		s.Stop()
		<-done
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

type interceptors struct {
	domain string
	log    *slog.Logger
	signer *auth.Signer
	limits *atomic.Pointer[ratelimit.Limiter]
}

// limit passes a caller's call through the rate limits, or refuses it as
// RATE_LIMITED with how long to wait, in ErrorInfo's retry_after and a
// RetryInfo.
func (c interceptors) limit(ctx context.Context, id *auth.Identity) error {
	l := c.limits.Load()
	if l == nil || id.IsInternal() {
		return nil
	}
	ok, wait := l.Allow(id.Org, id.Org+"/"+id.Subject)
	if ok {
		return nil
	}
	st := errs.Status(ratelimit.Refuse(wait), c.domain, locale.FromContext(ctx))
	if withRetry, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(ratelimit.RetrySeconds(wait)) * time.Second)}); err == nil {
		st = withRetry
	}
	return st.Err()
}

// public methods need no token: probes and discovery.
func public(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(method, "/grpc.reflection.")
}

func (c interceptors) recovery(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			resp, err = nil, errs.GRPC(errs.New(errs.Internal, "internal error"), c.domain, locale.FromContext(ctx))
		}
	}()
	return handler(ctx, req)
}

func (c interceptors) streamRecovery(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = errs.GRPC(errs.New(errs.Internal, "internal error"), c.domain, locale.FromContext(ss.Context()))
		}
	}()
	return handler(srv, ss)
}

// logging writes one Info line per call (method, code, duration, request id,
// caller and organization, the reason of a refusal): never the request or
// its metadata, which hold card numbers, security codes and tokens.
func (c interceptors) logging(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	// auth runs after logging and hands the caller it verified back here.
	who := &caller{}
	ctx, rid := withCallID(ctx)
	resp, err := handler(context.WithValue(ctx, callerKey{}, who), req)
	if !public(info.FullMethod) {
		c.logCall(ctx, info.FullMethod, rid, start, who, err)
	}
	return resp, err
}

// withCallID gives the call its request id (the caller's, or a new one) and
// answers it in the response header, so that a gRPC caller can quote it too.
func withCallID(ctx context.Context) (context.Context, string) {
	rid := incomingRequestID(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, rid))
	return WithRequestID(ctx, rid), rid
}

func (c interceptors) logCall(ctx context.Context, method, rid string, start time.Time, who *caller, err error) {
	code := status.Code(err)
	level := slog.LevelInfo
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unavailable:
		level = slog.LevelError
	}
	if !c.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("method", method), slog.String("code", code.String()),
		slog.Duration("duration", time.Since(start)), slog.String("request_id", rid))
	if id := who.id; id != nil {
		attrs = append(attrs, slog.String("sub", id.Subject), slog.String("org", id.Org))
	}
	if r := errs.ReasonOf(err); r != "" {
		attrs = append(attrs, slog.String("reason", r))
	}
	c.log.LogAttrs(ctx, level, "rpc", attrs...)
}

func (c interceptors) auth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if public(info.FullMethod) {
		return handler(ctx, req)
	}
	id, err := c.identify(ctx)
	if err != nil {
		return nil, errs.GRPC(err, c.domain, locale.FromContext(ctx))
	}
	if who, ok := ctx.Value(callerKey{}).(*caller); ok {
		who.id = id
	}
	if err := c.limit(ctx, id); err != nil {
		return nil, err
	}
	return handler(auth.WithIdentity(ctx, id), req)
}

func (c interceptors) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if public(info.FullMethod) {
		return handler(srv, ss)
	}
	ctx := ss.Context()
	id, err := c.identify(ctx)
	if err != nil {
		return errs.GRPC(err, c.domain, locale.FromContext(ctx))
	}
	if who, ok := ctx.Value(callerKey{}).(*caller); ok {
		who.id = id
	}
	if err := c.limit(ctx, id); err != nil {
		return err
	}
	return handler(srv, withContext(ss, auth.WithIdentity(ctx, id)))
}

// streamLogging is logging for streams: one line when the stream ends.
func (c interceptors) streamLogging(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	who := &caller{}
	ctx, rid := withCallID(ss.Context())
	err := handler(srv, withContext(ss, context.WithValue(ctx, callerKey{}, who)))
	if !public(info.FullMethod) {
		c.logCall(ctx, info.FullMethod, rid, start, who, err)
	}
	return err
}

// streamErrors is errors for streams.
func (c interceptors) streamErrors(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	err := handler(srv, ss)
	if err == nil {
		return nil
	}
	st := errs.Status(err, c.domain, locale.FromContext(ss.Context()))
	if st.Code() == codes.Internal || st.Code() == codes.Unknown {
		c.log.Error("rpc failed", "method", info.FullMethod, "request_id", RequestID(ss.Context()), "err", err.Error())
	}
	return st.Err()
}

// contextStream is a server stream whose Context is replaced, so that a
// stream handler sees what the interceptors before it added (the caller).
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

func withContext(ss grpc.ServerStream, ctx context.Context) grpc.ServerStream {
	return &contextStream{ServerStream: ss, ctx: ctx}
}

// unknown answers a method that no registered service has.
func (c interceptors) unknown(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	return errs.GRPC(errs.New(errs.NotImplemented, "%s is not implemented", method), c.domain, locale.FromContext(ss.Context()))
}

// caller carries the verified caller from auth back out to logging.
type caller struct{ id *auth.Identity }

type callerKey struct{}

// identify verifies the bearer token of a call against real time: the manual
// business clock never extends a token's life.
func (c interceptors) identify(ctx context.Context) (*auth.Identity, error) {
	// One key's values, not a copy of the whole metadata (as below: every
	// call reads a few keys of it).
	v := metadata.ValueFromIncomingContext(ctx, "authorization")
	// No header, an empty one, or a scheme with no token (an HTTP proxy
	// trims "Bearer " to "Bearer") all mean there is no token.
	if len(v) == 0 || strings.TrimSpace(v[0]) == "" || strings.EqualFold(strings.TrimSpace(v[0]), "Bearer") {
		return nil, errs.New(errs.TokenMissing, "missing bearer token")
	}
	scheme, token, ok := strings.Cut(v[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, errs.New(errs.TokenInvalid, "authorization must be \"Bearer <token>\"")
	}
	token = strings.TrimSpace(token)
	claims, err := c.signer.VerifyCached(token, time.Now())
	switch {
	case errors.Is(err, auth.ErrExpired):
		return nil, errs.New(errs.TokenExpired, "bearer token expired")
	case err != nil:
		return nil, errs.New(errs.TokenInvalid, "bearer token: %v", err)
	}
	return &auth.Identity{Claims: claims, Token: token}, nil
}

// errors gives every error the handler returns its status, ErrorInfo and
// LocalizedMessage.
func (c interceptors) errors(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		st := errs.Status(err, c.domain, locale.FromContext(ctx))
		if st.Code() == codes.Internal || st.Code() == codes.Unknown {
			// The client sees "internal error"; the cause is only in the log.
			c.log.Error("rpc failed", "method", info.FullMethod, "request_id", RequestID(ctx), "err", err.Error())
		}
		return nil, st.Err()
	}
	return resp, nil
}
