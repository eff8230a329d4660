package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/selfserve/selfserve/gen"
)

// healthTimeout bounds each service's health check, so that a hung service
// makes /healthz answer 503 quickly instead of hanging the probe.
const healthTimeout = 2 * time.Second

// health is the body of GET /healthz.
type health struct {
	Status   string            `json:"status"`
	Services map[string]string `json:"services"`
}

// healthz answers 200 when every service reports SERVING over grpc.health.v1,
// else 503; the body says which one is not. It needs no token.
func healthz(b backends) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		conns := b.each()
		got := make([]string, len(conns))
		var wg sync.WaitGroup
		for i, c := range conns {
			wg.Go(func() {
				resp, err := healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{})
				if err != nil {
					got[i] = "UNREACHABLE"
					return
				}
				got[i] = resp.GetStatus().String()
			})
		}
		wg.Wait()

		body := health{Status: "SERVING", Services: map[string]string{}}
		code := http.StatusOK
		for i, c := range conns {
			body.Services[c.name] = got[i]
			if got[i] != healthpb.HealthCheckResponse_SERVING.String() {
				body.Status, code = "NOT_SERVING", http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	}
}

// openAPI serves the OpenAPI document of the whole edge. It needs no token.
func openAPI(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(gen.OpenAPI)
}
