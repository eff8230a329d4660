package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/selfserve/selfserve/services/kit/servetest"
)

// startInProcess runs `selfserve dev` inside the test process, so that the
// spans reach a tracer provider of the test's; it stops with the test.
func startInProcess(t *testing.T, extra ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	r := &running{grpc: map[string]string{}, tokens: map[string]string{}, stderr: &servetest.Buffer{}}
	done := make(chan error, 1)
	args := append([]string{"dev", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
		"--licensing-addr", "127.0.0.1:0", "--commerce-addr", "127.0.0.1:0", "--billing-addr", "127.0.0.1:0"}, extra...)
	go func() {
		err := run(ctx, args, pw, r.stderr)
		pw.CloseWithError(fmt.Errorf("dev stopped: %v", err))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("dev did not stop")
		}
	})
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := gatewayLine.FindStringSubmatch(line); m != nil {
			r.url = m[1]
		} else if m := tokenLine.FindStringSubmatch(line); m != nil {
			r.tokens[m[1]] = m[2]
		} else if strings.HasPrefix(line, "Try:") {
			go io.Copy(io.Discard, pr)
			return r
		}
	}
	t.Fatalf("dev stopped before it was ready: %v\n%s", sc.Err(), r.stderr)
	return nil
}

// TestTraceOfAPurchase: one purchase through the JSON edge is one trace,
// with a span for the HTTP request and for each hop (commerce, billing,
// licensing, on both sides of each call), and the log lines of the request
// carry its trace id.
func TestTraceOfAPurchase(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every component")
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { tp.Shutdown(context.Background()); otel.SetTracerProvider(prev) })

	s := &shop{t: t, r: startInProcess(t, "--log-level", "info", "--log-format", "json")}
	maxTok := s.r.tokens["contoso/max"]
	plain, _, _, _, _ := s.products(maxTok)
	profile, _ := s.wallet(maxTok, "4242424242424242")
	exp.Reset()
	a := s.r.send(t, call{method: "POST", path: "/v1/organizations/contoso/subscriptions:purchase", token: maxTok, body: buy(plain, profile, 2, `,"requestId":"trace-1"`)})
	if a.status != 200 {
		t.Fatalf("purchase: %d %v", a.status, a.body)
	}
	requestID := a.header.Get("Request-Id")

	var root sdktrace.ReadOnlySpan
	var spans tracetest.SpanStubs
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// Each server span ends once its answer is sent, so commerce's may
		// end after the gateway's: wait for both.
		spans = exp.GetSpans()
		served := false
		for _, sp := range spans {
			if sp.SpanKind == trace.SpanKindServer && sp.Name == "POST /v1/{parent=organizations/*}/subscriptions:purchase" {
				root = sp.Snapshot()
			}
			served = served || (sp.SpanKind == trace.SpanKindServer && sp.Name == "selfserve.commerce.v1.SubscriptionService/PurchaseSubscription")
		}
		if (root != nil && served) || time.Now().After(deadline) {
			break
		}
	}
	if root == nil {
		t.Fatalf("no span of the HTTP request among %d: %v", len(spans), spanNames(spans))
	}
	traceID := root.SpanContext().TraceID()
	var inTrace []string
	kinds := map[string]bool{}
	for _, sp := range spans {
		if sp.SpanContext.TraceID() != traceID {
			if strings.Contains(sp.Name, "PurchaseSubscription") || strings.Contains(sp.Name, "Charge") {
				t.Errorf("a span of the purchase is in another trace: %s", sp.Name)
			}
			continue
		}
		inTrace = append(inTrace, sp.SpanKind.String()+" "+sp.Name)
		kinds[sp.SpanKind.String()+" "+sp.Name[:strings.LastIndex(sp.Name, "/")+1]] = true
		if !sp.Parent.IsValid() && sp.Name != root.Name() {
			t.Errorf("a second root in the trace: %s", sp.Name)
		}
	}
	t.Logf("the purchase's trace: %d spans: %s", len(inTrace), strings.Join(inTrace, "; "))
	for _, want := range []string{
		"client selfserve.commerce.v1.SubscriptionService/", "server selfserve.commerce.v1.SubscriptionService/",
		"client selfserve.billing.v1.ChargeService/", "server selfserve.billing.v1.ChargeService/",
	} {
		if !kinds[want] {
			t.Errorf("no %s… span in the purchase's trace", want)
		}
	}
	licensing := false
	for k := range kinds {
		licensing = licensing || strings.HasPrefix(k, "server selfserve.licensing.v1.")
	}
	if !licensing {
		t.Error("no licensing span in the purchase's trace")
	}

	// The log lines of the request carry the trace id.
	lines := 0
	for _, raw := range strings.Split(s.r.stderr.String(), "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(raw), &line) != nil || line["request_id"] != requestID {
			continue
		}
		lines++
		if line["trace_id"] != traceID.String() {
			t.Errorf("a log line of the request has trace_id %v, want %s: %v", line["trace_id"], traceID, line)
		}
	}
	if lines < 3 {
		t.Errorf("only %d log lines carry the request id %s", lines, requestID)
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.SpanKind.String()+" "+s.Name)
	}
	return out
}
