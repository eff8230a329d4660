package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestHealthcheck(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	h := health.NewServer()
	healthpb.RegisterHealthServer(srv, h)
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus("selfserve.licensing.v1.SeatService", healthpb.HealthCheckResponse_NOT_SERVING)
	go srv.Serve(lis)
	defer srv.Stop()

	var sick atomic.Bool
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sick.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		w.Write([]byte(`{"status":"SERVING"}`))
	}))
	defer web.Close()

	// A port nothing listens on.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	check := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"healthcheck"}, args...), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := check("--addr", lis.Addr().String()); err != nil || !strings.Contains(out, "SERVING") {
		t.Errorf("a serving server: %v %q", err, out)
	}
	if out, err := check("--addr", lis.Addr().String(), "--service", "selfserve.licensing.v1.SeatService"); err == nil || !strings.Contains(out+err.Error(), "NOT_SERVING") {
		t.Errorf("a service not serving passed: %v %q", err, out)
	}
	if _, err := check("--addr", lis.Addr().String(), "--service", "nope"); err == nil {
		t.Error("an unknown service passed")
	}
	if _, err := check("--addr", deadAddr, "--timeout", "500ms"); err == nil {
		t.Error("a closed port passed")
	}
	if out, err := check("--addr", web.URL+"/healthz"); err != nil || !strings.Contains(out, "SERVING") {
		t.Errorf("a healthy gateway: %v %q", err, out)
	}
	sick.Store(true)
	if _, err := check("--addr", web.URL+"/healthz"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a gateway answering 503 passed: %v", err)
	}
	if _, err := check(); err != errUsage {
		t.Errorf("no --addr: %v, want the usage", err)
	}
}
