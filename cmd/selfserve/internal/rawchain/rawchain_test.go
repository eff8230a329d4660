package rawchain_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/selfserve/selfserve/cmd/selfserve/internal/rawchain"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/serve"
)

func start(t testing.TB) (*rawchain.Servers, *auth.Signer) {
	t.Helper()
	signer, err := auth.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := rawchain.Start(rawchain.Config{Dir: t.TempDir(), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, signer
}

// TestChain sends an assign and an unassign through the whole chain.
func TestChain(t *testing.T) {
	s, _ := start(t)
	for _, verb := range []string{"assign", "unassign"} {
		resp, err := http.Post(s.Addrs.HTTP+"/v1/organizations/contoso/licenses/raw:"+verb, "application/json",
			strings.NewReader(`{"users":["organizations/contoso/users/ada"]}`))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body map[string]any
		if resp.StatusCode != 200 || json.Unmarshal(raw, &body) != nil || body["name"] != "organizations/contoso/licenses/raw" {
			t.Fatalf("%s: %d %s", verb, resp.StatusCode, raw)
		}
	}
}

// TestEchoes calls the bare echo, and the one behind the interceptor chain
// with and without a token.
func TestEchoes(t *testing.T) {
	s, signer := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := signer.Sign(auth.Claims{Subject: "op", Roles: []string{auth.Operator}, Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	withToken := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	for _, tc := range []struct {
		name, addr string
		ctx        context.Context
		want       codes.Code
	}{
		{"bare", s.Addrs.Echo, ctx, codes.OK},
		{"chain with token", s.Addrs.ChainEcho, withToken, codes.OK},
		{"chain without token", s.Addrs.ChainEcho, ctx, codes.Unauthenticated},
	} {
		conn, err := serve.Dial(tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := operatorv1.NewClockServiceClient(conn).GetClock(tc.ctx, &operatorv1.GetClockRequest{Name: "clock"})
		conn.Close()
		if status.Code(err) != tc.want || (err == nil && c.GetNow() == nil) {
			t.Errorf("%s: %v %v, want %v", tc.name, c, err, tc.want)
		}
	}
}

// BenchmarkEcho prices the interceptor chain per call: the same echo on a
// bare grpc.Server and behind serve.NewServer, called in parallel by a
// plain client. go test ./cmd/selfserve/internal/rawchain -bench Echo
func BenchmarkEcho(b *testing.B) {
	s, signer := start(b)
	tok, err := signer.Sign(auth.Claims{Subject: "op", Roles: []string{auth.Operator}, Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, addr string }{{"bare", s.Addrs.Echo}, {"chain", s.Addrs.ChainEcho}} {
		b.Run(tc.name, func(b *testing.B) {
			conn, err := grpc.NewClient(tc.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			c := operatorv1.NewClockServiceClient(conn)
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetClock(ctx, &operatorv1.GetClockRequest{Name: "clock"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
