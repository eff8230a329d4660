package licensing_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/serve"
	"github.com/selfserve/selfserve/services/licensing"
)

// benchEnv serves licensing over loopback TCP on a bbolt file, with a pool
// of 1,000 licenses and 100 members.
func benchEnv(b *testing.B) (licensingv1.LicensingServiceClient, context.Context) {
	key := make([]byte, 32)
	rand.Read(key)
	signer, _ := auth.NewSigner(key)
	c, err := licensing.Open(licensing.Config{DataDir: b.TempDir(), Clock: "system", Signer: signer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Serve(ctx, lis, time.Second); close(done) }()
	conn, err := serve.Dial(lis.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(); cancel(); <-done; c.Close() })
	e := &env{signer: signer, comp: c, dir: licensingv1.NewDirectoryServiceClient(conn), lic: licensingv1.NewLicensingServiceClient(conn), pools: licensingv1.NewPoolServiceClient(conn)}
	acme(b, e)
	e.pool(b, "bench", licensingv1.Pool_SELF_SERVICE, "buyer", 1000)
	tok, _ := signer.Sign(auth.Claims{Subject: "buyer", Org: "acme", Expires: time.Now().Add(time.Hour).Unix()})
	return e.lic, metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// BenchmarkAssignUnassign measures one assign and one unassign of a user,
// each a durable bbolt commit, through the gRPC server: go test -bench AssignUnassign -run '^$' ./services/licensing/
func BenchmarkAssignUnassign(b *testing.B) {
	for _, parallel := range []int{1, 16} {
		b.Run(fmt.Sprintf("callers=%d", parallel), func(b *testing.B) {
			lic, ctx := benchEnv(b)
			var next atomic.Int64
			b.SetParallelism(parallel)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				user := []string{fmt.Sprintf("organizations/acme/users/m%02d", next.Add(1)%70+1)}
				for pb.Next() {
					if _, err := lic.AssignLicenses(ctx, &licensingv1.AssignLicensesRequest{Name: "organizations/acme/licenses/bench", Users: user}); err != nil {
						b.Fatal(err)
					}
					if _, err := lic.UnassignLicenses(ctx, &licensingv1.UnassignLicensesRequest{Name: "organizations/acme/licenses/bench", Users: user}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
