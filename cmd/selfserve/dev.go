package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/selfserve/selfserve/cmd/selfserve/internal/layout"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/billing"
	"github.com/selfserve/selfserve/services/billing/invoicepdf"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/serve"
	"github.com/selfserve/selfserve/services/kit/telemetry"
	"github.com/selfserve/selfserve/services/licensing"
)

// components in start order: the services before the gateway in front of them.
var components = layout.Components

// runDev starts every component in this process, each on its own port and
// talking to the others over real gRPC, then prints how to reach them.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("dev", stderr)
	f.dataDir()
	f.addrs(true, true, true, true)
	f.service(true)
	f.webhooks()
	f.pdf()
	f.limits()
	f.common()
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	tuneGC()
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	signer, err := cfg.signer()
	if err != nil {
		return err
	}
	// Listen first, so that a busy port fails before anything opens a store.
	listeners := map[string]net.Listener{}
	closeListeners := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	for name, addr := range map[string]string{"gateway": cfg.HTTPAddr, "licensing": cfg.LicensingAddr, "commerce": cfg.CommerceAddr, "billing": cfg.BillingAddr} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			closeListeners()
			return fmt.Errorf("%s: %w", name, err)
		}
		listeners[name] = l
	}
	sys := &system{cfg: cfg, log: log, signer: signer, dial: map[string]string{
		"licensing": dialAddr(listeners["licensing"]),
		"commerce":  dialAddr(listeners["commerce"]),
		"billing":   dialAddr(listeners["billing"]),
	}}
	units := map[string]*unit{}
	for _, name := range components {
		u, err := sys.open(ctx, name)
		if err != nil {
			for _, o := range units {
				o.close()
			}
			closeListeners()
			return err
		}
		units[name] = u
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if sys.billing.CJKFont() == nil {
		go devCJKFont(ctx, sys.billing, log)
	}
	shutdownTraces, err := telemetry.Setup(ctx, "selfserve")
	if err != nil {
		for _, u := range units {
			u.close()
		}
		closeListeners()
		return err
	}
	defer flushTraces(shutdownTraces, log)
	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(cfg.MetricsAddr, log)
		if err != nil {
			for _, u := range units {
				u.close()
			}
			closeListeners()
			return err
		}
		defer stop()
	}
	served := make(chan error, 1)
	go func() { served <- serveAll(ctx, units, listeners, cfg.Grace) }()

	if err := sys.banner(ctx, stdout, "http://"+dialAddr(listeners["gateway"])); err != nil {
		cancel()
		<-served
		return err
	}
	err = <-served
	log.Info("stopped", "err", err)
	return err
}

// devCJKFont gives billing, on a machine without a Chinese font package, the
// font that a Go module of the module cache ships (downloaded if need be), so
// that Chinese invoices are readable in development as they are in the
// container image, which installs fonts-wqy-microhei.
func devCJKFont(ctx context.Context, b *billing.Component, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	f, err := invoicepdf.ModuleCacheCJKFont(ctx)
	if err != nil {
		log.Warn("no Chinese font from the Go module cache either", "err", err)
		return
	}
	b.SetCJKFont(f)
	log.Info("Chinese invoices set in", "font", f.Path)
}

// banner waits until the services answer, then prints the addresses and
// bearer tokens for the operator and the demo users.
func (s *system) banner(ctx context.Context, w io.Writer, gatewayURL string) error {
	conn, err := serve.Dial(s.dial["licensing"])
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := waitHealthy(ctx, s.dial); err != nil {
		return err
	}
	const ttl = 24 * time.Hour
	op, err := s.signer.OperatorToken(ttl)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "selfserve is running (clock %s, data in %s)\n\n", s.cfg.Clock, s.cfg.DataDir)
	fmt.Fprintf(tw, "  gateway\t%s\tJSON; GET /healthz, GET /openapi.json\n", gatewayURL)
	for _, name := range []string{"licensing", "commerce", "billing"} {
		fmt.Fprintf(tw, "  %s\t%s\tgRPC with reflection and health\n", name, s.dial[name])
	}
	fmt.Fprintf(tw, "\nBearer tokens, valid for %s:\n\n", ttl)
	fmt.Fprintf(tw, "  operator\tOPERATOR\t%s\n", op)
	if s.cfg.Seed {
		octx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+op)
		dir := licensingv1.NewDirectoryServiceClient(conn)
		for _, o := range licensing.Demo {
			for _, u := range o.Users {
				name := names.Format(names.User, o.ID, u.ID)
				resp, err := dir.IssueToken(octx, &licensingv1.IssueTokenRequest{Name: name})
				if status.Code(err) == codes.NotFound {
					continue
				}
				if err != nil {
					return fmt.Errorf("issue token for %s: %w", name, err)
				}
				fmt.Fprintf(tw, "  %s/%s\t%s\t%s\n", o.ID, u.ID, roleLabel(u), resp.Token)
			}
		}
	}
	fmt.Fprintf(tw, "\nTry:\n  curl -H \"Authorization: Bearer %s\" %s/v1/organizations/contoso/users\n", op, gatewayURL)
	return tw.Flush()
}

func roleLabel(u licensing.DemoUser) string {
	var parts []string
	for _, r := range u.Roles {
		parts = append(parts, r.String())
	}
	if u.Type == licensingv1.User_GUEST {
		parts = append(parts, "GUEST")
	}
	if len(parts) == 0 {
		return "MEMBER"
	}
	return strings.Join(parts, ",")
}

// waitHealthy polls the gRPC health of every service until all serve.
func waitHealthy(ctx context.Context, dial map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for name, addr := range dial {
		conn, err := serve.Dial(addr)
		if err != nil {
			return err
		}
		err = pollHealth(ctx, conn)
		conn.Close()
		if err != nil {
			return fmt.Errorf("%s at %s did not become healthy: %w", name, addr, err)
		}
	}
	return nil
}

func pollHealth(ctx context.Context, conn *grpc.ClientConn) error {
	client := healthpb.NewHealthClient(conn)
	for {
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
