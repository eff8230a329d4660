package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/selfserve/selfserve/services/billing"
	"github.com/selfserve/selfserve/services/commerce"
	"github.com/selfserve/selfserve/services/gateway"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/telemetry"
	"github.com/selfserve/selfserve/services/licensing"
)

// runComponent runs one component in this process, as docker-compose does.
func runComponent(ctx context.Context, name string, args []string, stderr io.Writer) error {
	f := componentFlags(name, stderr)
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	tuneGC()
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	listen := map[string]string{"licensing": cfg.LicensingAddr, "commerce": cfg.CommerceAddr, "billing": cfg.BillingAddr, "gateway": cfg.HTTPAddr}[name]
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	sys, closeStore, err := newSystem(cfg, log, name, lis)
	if err != nil {
		lis.Close()
		return err
	}
	defer closeStore()
	unit, err := sys.open(ctx, name)
	if err != nil {
		lis.Close()
		return err
	}
	if dir := os.Getenv("SELFSERVE_CPU_PROFILE_DIR"); dir != "" {
		// Hidden, for profiling the bench's children: each component writes
		// DIR/<component>.pprof (CPU) and DIR/<component>.allocs.pprof
		// (allocations since start) when it stops.
		stop, err := startProfiles(filepath.Join(dir, name))
		if err != nil {
			lis.Close()
			unit.close()
			return err
		}
		defer stop()
	}
	clog := log.With("component", name)
	shutdownTraces, err := telemetry.Setup(ctx, name)
	if err != nil {
		lis.Close()
		unit.close()
		return err
	}
	defer flushTraces(shutdownTraces, clog)
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(cfg.MetricsAddr, clog)
		if err != nil {
			lis.Close()
			unit.close()
			return err
		}
		defer stop()
	}
	clog.Info("started", "addr", lis.Addr().String(), "clock", cfg.Clock, "store", cfg.Store)
	err = unit.serve(ctx, lis, cfg.Grace)
	if cerr := unit.close(); err == nil {
		err = cerr
	}
	clog.Info("stopped")
	return err
}

// componentFlags are the flags of one component's command.
func componentFlags(name string, stderr io.Writer) *flagSet {
	f := newFlags(name, stderr)
	switch name {
	case "licensing":
		f.dataDir()
		f.store()
		f.addrs(false, true, true, true)
		f.service(true)
	case "commerce":
		f.dataDir()
		f.store()
		f.addrs(false, true, true, true)
		f.service(true)
		f.webhooks()
	case "billing":
		f.dataDir()
		f.store()
		f.addrs(false, true, true, true)
		f.service(false)
		f.pdf()
	case "gateway":
		f.addrs(true, true, true, true)
		f.StringVar(&f.cfg.SigningKey, "signing-key", "", "the services' token signing key, if this machine has it: the rate limits then exempt operators and count callers by who they are (empty: by token)")
	}
	f.limits()
	f.common()
	return f
}

// newSystem is what a component started alone needs of the others: their
// addresses (its own as lis has it), the signer and, for a service, its
// store; call the function it returns to close the store.
func newSystem(cfg *config, log *slog.Logger, name string, lis net.Listener) (*system, func() error, error) {
	sys := &system{cfg: cfg, log: log, dial: map[string]string{
		"licensing": cfg.LicensingAddr, "commerce": cfg.CommerceAddr, "billing": cfg.BillingAddr,
	}}
	var err error
	if name != "gateway" {
		if sys.signer, err = cfg.signer(); err != nil {
			return nil, nil, err
		}
	} else if cfg.SigningKey != "" {
		// The gateway only verifies: a key it made itself would verify nothing.
		key, err := auth.LoadKey(cfg.SigningKey)
		if err == nil {
			sys.signer, err = auth.NewSigner(key)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--signing-key: %w", err)
		}
	}
	sys.dial[name] = dialAddr(lis)
	if name == "gateway" {
		return sys, func() error { return nil }, nil
	}
	open, closeStore, err := cfg.opener()
	if err != nil {
		return nil, nil, err
	}
	sys.store = open
	return sys, closeStore, nil
}

// system knows how to open each component with the shared settings.
type system struct {
	cfg    *config
	log    *slog.Logger
	signer *auth.Signer
	dial   map[string]string // where each gRPC service is reached
	store  kv.Opener         // nil: bbolt files in cfg.DataDir

	billing *billing.Component // once opened
}

// unit is an opened component.
type unit struct {
	serve func(context.Context, net.Listener, time.Duration) error
	close func() error
}

func (s *system) open(ctx context.Context, name string) (*unit, error) {
	log := s.log.With("component", name)
	switch name {
	case "licensing":
		c, err := licensing.Open(licensing.Config{DataDir: s.cfg.DataDir, Store: s.store, Clock: s.cfg.Clock, Seed: s.cfg.Seed, CommerceAddr: s.dial["commerce"], Signer: s.signer, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("licensing: %w", err)
		}
		c.Limit(s.cfg.limiter())
		return &unit{serve: c.Serve, close: c.Close}, nil
	case "commerce":
		c, err := commerce.Open(commerce.Config{DataDir: s.cfg.DataDir, Store: s.store, Clock: s.cfg.Clock, Seed: s.cfg.Seed,
			LicensingAddr: s.dial["licensing"], BillingAddr: s.dial["billing"], Signer: s.signer, Logger: log,
			WebhooksAllowPrivate: s.cfg.WebhooksAllowPrivate, AuditRetentionMonths: s.cfg.AuditRetentionMonths})
		if err != nil {
			return nil, fmt.Errorf("commerce: %w", err)
		}
		c.Limit(s.cfg.limiter())
		return &unit{serve: c.Serve, close: c.Close}, nil
	case "billing":
		c, err := billing.Open(billing.Config{DataDir: s.cfg.DataDir, Store: s.store, Clock: s.cfg.Clock, LicensingAddr: s.dial["licensing"],
			CommerceAddr: s.dial["commerce"], Signer: s.signer, Logger: log, CJKFont: s.cfg.CJKFont})
		if err != nil {
			return nil, fmt.Errorf("billing: %w", err)
		}
		s.billing = c
		c.Limit(s.cfg.limiter())
		return &unit{serve: c.Serve, close: c.Close}, nil
	case "gateway":
		g, err := gateway.New(ctx, gateway.Config{LicensingAddr: s.dial["licensing"], CommerceAddr: s.dial["commerce"], BillingAddr: s.dial["billing"], Logger: log,
			Limits: s.cfg.limiter(), Signer: s.signer})
		if err != nil {
			return nil, err
		}
		return &unit{serve: g.Serve, close: g.Close}, nil
	}
	return nil, fmt.Errorf("unknown component %q", name)
}

// serveAll serves every unit on its listener until ctx is done or one fails,
// then stops them all and closes them.
func serveAll(ctx context.Context, units map[string]*unit, listeners map[string]net.Listener, grace time.Duration) error {
	g, gctx := errgroup.WithContext(ctx)
	for name, u := range units {
		g.Go(func() error {
			if err := u.serve(gctx, listeners[name], grace); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	err := g.Wait()
	for _, u := range units {
		if cerr := u.close(); err == nil {
			err = cerr
		}
	}
	return err
}

// dialAddr is the address to reach a listener at: an unspecified host (":9101",
// "0.0.0.0:9101") is reached on loopback.
func dialAddr(lis net.Listener) string {
	addr := lis.Addr().(*net.TCPAddr)
	if addr.IP == nil || addr.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(addr.Port))
	}
	return addr.String()
}

// startProfiles profiles this process's CPU until stop is called, which
// also writes its allocations: prefix.pprof and prefix.allocs.pprof.
func startProfiles(prefix string) (stop func(), err error) {
	f, err := os.Create(prefix + ".pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		if a, err := os.Create(prefix + ".allocs.pprof"); err == nil {
			pprof.Lookup("allocs").WriteTo(a, 0)
			a.Close()
		}
	}, nil
}
