package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/selfserve/selfserve/services/kit/serve"
)

// runHealthcheck asks one component whether it serves: a service over
// grpc.health.v1 (--addr host:port, optionally --service NAME), the gateway
// over HTTP (--addr http://host:port/healthz). It exits 0 when the answer is
// SERVING (or 200) and 1 otherwise, printing what it got, so that an image
// with no shell or curl can still be health-checked (docker-compose.yaml).
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("healthcheck", stderr)
	var addr, service string
	var timeout time.Duration
	f.StringVar(&addr, "addr", "", "the gRPC address of a service (host:port), or the URL of the gateway's /healthz (http://host:port/healthz)")
	f.StringVar(&service, "service", "", "the gRPC health service name to ask about (default: the whole server)")
	f.DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	if _, err := f.parse(args); err != nil {
		return err
	}
	if addr == "" {
		fmt.Fprintln(stderr, "healthcheck: --addr is required")
		return errUsage
	}
	if timeout <= 0 {
		return errors.New("healthcheck: --timeout must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var state string
	var err error
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		state, err = httpHealth(ctx, addr)
	} else {
		state, err = grpcHealth(ctx, addr, service)
	}
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", addr, err)
	}
	fmt.Fprintf(stdout, "%s %s\n", addr, state)
	if state != healthpb.HealthCheckResponse_SERVING.String() {
		return fmt.Errorf("healthcheck %s: %s", addr, state)
	}
	return nil
}

func grpcHealth(ctx context.Context, addr, service string) (string, error) {
	conn, err := serve.Dial(addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return "", err
	}
	return resp.GetStatus().String(), nil
}

func httpHealth(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("NOT_SERVING (HTTP %d)", resp.StatusCode), nil
	}
	return healthpb.HealthCheckResponse_SERVING.String(), nil
}
