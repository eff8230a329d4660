package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"

	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/backuprpc"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/clockrpc"
)

// Service is the frame every selfserve service stands in: its bbolt store, its
// business clock (with ClockService registered), an online backup of the
// store (BackupService) and its gRPC server. A
// service registers its own gRPC services on Server before Serve.
type Service struct {
	*Server
	DB    kv.DB
	Clock clock.Clock
	// Clocks serves ClockService; a service with due jobs sets Clocks.RunDue.
	Clocks *clockrpc.Server

	log     *slog.Logger
	tasks   []func(context.Context)
	leading atomic.Bool
}

// JobInterval is how often due jobs run under the system clock. Under a
// manual clock they run when the clock is advanced.
const JobInterval = time.Minute

// ServiceConfig says what a Service is made of.
type ServiceConfig struct {
	Name      string // "licensing"
	Domain    string // ErrorInfo domain, "licensing.selfserve"
	DB        kv.DB
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
		log:    log,
	}
	operatorv1.RegisterClockServiceServer(s.Server, s.Clocks)
	operatorv1.RegisterBackupServiceServer(s.Server, &backuprpc.Server{Name: cfg.Name, DB: cfg.DB})
	return s, nil
}

// Log is the service's logger.
func (s *Service) Log() *slog.Logger { return s.log }

// Go adds a background task (an outbox sender, say) that runs while the
// service serves and must return when its context is done. On etcd it runs
// on the leading replica only (see runBackground).
func (s *Service) Go(task func(ctx context.Context)) { s.tasks = append(s.tasks, task) }

// Serve serves on lis until ctx is done, then stops gracefully; background
// tasks run meanwhile and are waited for.
func (s *Service) Serve(ctx context.Context, lis net.Listener, grace time.Duration) error {
	tctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	tasks := s.tasks
	if _, manual := s.Clock.(*clock.Manual); !manual && s.Clocks.RunDue != nil {
		tasks = append(tasks, s.runJobs)
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.runBackground(tctx, tasks) }()
	err := s.Server.Serve(ctx, lis, grace)
	cancel()
	wg.Wait()
	return err
}

// runJobs runs the due jobs of a system clock every JobInterval.
func (s *Service) runJobs(ctx context.Context) {
	t := time.NewTicker(JobInterval)
	defer t.Stop()
	for {
		if err := s.Clocks.RunDue(ctx, s.Clock.Now()); err != nil && ctx.Err() == nil {
			s.log.Error("due jobs failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close closes the store; call it after Serve returned.
func (s *Service) Close() error { return s.DB.Close() }
