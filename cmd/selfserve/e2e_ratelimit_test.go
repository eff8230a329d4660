package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// TestEndToEndRateLimits: one tenant flooding the edge is refused with 429
// RATE_LIMITED and Retry-After, while another tenant's calls and the
// operator's all pass; the services limit a gRPC caller the same way.
func TestEndToEndRateLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := startDev(t, binary(t), t.TempDir(), "--rate-limit-org", "5", "--rate-limit-org-burst", "10",
		"--rate-limit-caller", "5", "--rate-limit-caller-burst", "10")
	maxTok, nora, zhang, op := r.tokens["contoso/max"], r.tokens["contoso/nora"], r.tokens["fabrikam-cn/zhang"], r.tokens["operator"]

	// contoso floods: 8 workers, 25 calls each, through max and nora.
	const flood = 200
	var ok, limited, other atomic.Int64
	var retryAfter atomic.Value
	var wg sync.WaitGroup
	for w := range 8 {
		tok := maxTok
		if w%2 == 1 {
			tok = nora
		}
		wg.Go(func() {
			for range flood / 8 {
				a := r.send(t, call{method: "GET", path: "/v1/organizations/contoso/users?pageSize=1", token: tok})
				switch reason, _ := errorReason(a.body); {
				case a.status == 200:
					ok.Add(1)
				case a.status == 429 && reason == "RATE_LIMITED":
					limited.Add(1)
					retryAfter.Store(a.header.Get("Retry-After"))
				default:
					other.Add(1)
				}
			}
		})
	}
	// Meanwhile fabrikam-cn makes its few calls, and the operator reads contoso.
	var fabrikamOK, operatorOK int
	for range 8 {
		if a := r.send(t, call{method: "GET", path: "/v1/organizations/fabrikam-cn/users?pageSize=1", token: zhang}); a.status == 200 {
			fabrikamOK++
		} else {
			t.Errorf("fabrikam-cn was refused during contoso's flood: %d %v", a.status, a.body)
		}
	}
	for range 30 {
		if a := r.send(t, call{method: "GET", path: "/v1/organizations/contoso/users?pageSize=1", token: op}); a.status == 200 {
			operatorOK++
		}
	}
	wg.Wait()
	t.Logf("contoso's flood: %d calls, %d passed, %d refused RATE_LIMITED; fabrikam-cn %d of 8 passed; operator %d of 30", flood, ok.Load(), limited.Load(), fabrikamOK, operatorOK)
	if other.Load() != 0 {
		t.Errorf("%d calls of the flood answered neither 200 nor 429 RATE_LIMITED", other.Load())
	}
	// The organization's burst of 10 and a rate of 5/s over a few seconds at most.
	if ok.Load() < 10 || ok.Load() > 60 || limited.Load() < flood-60 {
		t.Errorf("the flood: %d passed, %d refused; want the burst and the rate to pass and the rest refused", ok.Load(), limited.Load())
	}
	if v, _ := retryAfter.Load().(string); v != "1" {
		t.Errorf("Retry-After %q, want 1 (second)", v)
	}
	if fabrikamOK != 8 || operatorOK != 30 {
		t.Errorf("fabrikam-cn %d of 8, operator %d of 30: want all", fabrikamOK, operatorOK)
	}

	// Straight to licensing over gRPC: the service's own buckets.
	conn, err := serve.Dial(r.grpc["licensing"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+zhang, "accept-language", "fr")
	dir := licensingv1.NewDirectoryServiceClient(conn)
	refused := 0
	for range 30 {
		_, err := dir.GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/fabrikam-cn"})
		if err == nil {
			continue
		}
		s := status.Convert(err)
		var info *errdetails.ErrorInfo
		var retry *errdetails.RetryInfo
		var msg *errdetails.LocalizedMessage
		for _, d := range s.Details() {
			switch d := d.(type) {
			case *errdetails.ErrorInfo:
				info = d
			case *errdetails.RetryInfo:
				retry = d
			case *errdetails.LocalizedMessage:
				msg = d
			}
		}
		if s.Code() != codes.ResourceExhausted || info.GetReason() != "RATE_LIMITED" || retry.GetRetryDelay().AsDuration() <= 0 || msg.GetLocale() != "fr" {
			t.Fatalf("over gRPC: %v %v %v %v", s.Code(), info, retry, msg)
		}
		refused++
	}
	if refused == 0 {
		t.Error("30 gRPC calls at once passed a caller burst of 10")
	}
}
