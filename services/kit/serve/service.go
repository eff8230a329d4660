package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	bolt "go.etcd.io/bbolt"

	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/clockrpc"
)

// Service is the frame every selfserve service stands in: its bbolt store, its
// business clock (with ClockService registered) and its gRPC server. A
// service registers its own gRPC services on Server before Serve.
type Service struct {
	*Server
	DB    *bolt.DB
	Clock clock.Clock
	// Clocks serves ClockService; a service with due jobs sets Clocks.RunDue.
	Clocks *clockrpc.Server
}

// ServiceConfig says what a Service is made of.
type ServiceConfig struct {
	Name      string // "licensing"
	Domain    string // ErrorInfo domain, "licensing.selfserve"
	DB        *bolt.DB
	ClockMode string // "system" or "manual"
	Signer    *auth.Signer
	Logger    *slog.Logger
}

// NewService builds the frame on an open store; the store is closed if it fails.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.DB == nil || cfg.Signer == nil {
		return nil, errors.New("serve: a service needs a store and a signer")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clk, err := clockrpc.Open(cfg.ClockMode, cfg.DB)
	if err != nil {
		cfg.DB.Close()
		return nil, err
	}
	s := &Service{
		Server: NewServer(cfg.Name, cfg.Domain, log, cfg.Signer),
		DB:     cfg.DB,
		Clock:  clk,
		Clocks: &clockrpc.Server{Service: cfg.Name, Clock: clk},
	}
	operatorv1.RegisterClockServiceServer(s.Server, s.Clocks)
	return s, nil
}

// Serve serves on lis until ctx is done, then stops gracefully.
func (s *Service) Serve(ctx context.Context, lis net.Listener, grace time.Duration) error {
	return s.Server.Serve(ctx, lis, grace)
}

// Close closes the store; call it after Serve returned.
func (s *Service) Close() error { return s.DB.Close() }
