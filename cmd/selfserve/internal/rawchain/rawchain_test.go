package rawchain_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
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
	return startIn(t, t.TempDir())
}

func startIn(t testing.TB, dir string) (*rawchain.Servers, *auth.Signer) {
	t.Helper()
	signer, err := auth.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := rawchain.Start(rawchain.Config{Dir: dir, Signer: signer})
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

// TestPurchase buys through the purchase's shape and finds its four
// commits in the three files once the servers are closed.
func TestPurchase(t *testing.T) {
	dir := t.TempDir()
	s, _ := startIn(t, dir)
	resp, err := http.Post(s.Addrs.HTTP+"/v1/organizations/contoso/subscriptions:purchase", "application/json",
		strings.NewReader(`{"product":"products/raw","quantity":3,"billingFrequency":"MONTHLY","billingProfile":"billingAccounts/a/billingProfiles/p","requestId":"r1"}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var sub struct{ Name, Product, State string }
	if resp.StatusCode != 200 || json.Unmarshal(raw, &sub) != nil || !strings.HasPrefix(sub.Name, "organizations/contoso/subscriptions/") ||
		sub.Product != "products/raw" || sub.State != "ACTIVE" {
		t.Fatalf("purchase: %d %s", resp.StatusCode, raw)
	}
	if resp, err := http.Post(s.Addrs.HTTP+"/v1/organizations/contoso/subscriptions:purchase", "application/json", strings.NewReader(`{}`)); err != nil || resp.StatusCode == 200 {
		t.Errorf("a purchase of nothing: %v %v, want an error", resp.Status, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		file, key string
		want      bool
	}{
		{"raw-subscriptions.db", sub.Name, true},
		{"raw-subscriptions.db", "hidden/" + sub.Name, false},
		{"raw-charges.db", sub.Name + "/orders/1", true},
		{"raw-pools.db", sub.Name, true},
	} {
		db, err := bolt.Open(filepath.Join(dir, f.file), 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		db.View(func(tx *bolt.Tx) error {
			if got := tx.Bucket([]byte("assignments")).Get([]byte(f.key)) != nil; got != f.want {
				t.Errorf("%s: %q stored %v, want %v", f.file, f.key, got, f.want)
			}
			return nil
		})
		db.Close()
	}
}

// TestList pages through the list's shape: every subscription once, in
// pages of 50, each with its pool's assigned count.
func TestList(t *testing.T) {
	s, _ := start(t)
	seen, token := 0, ""
	for range rawchain.ListSize/50 + 1 {
		resp, err := http.Get(s.Addrs.HTTP + "/v1/organizations/" + rawchain.ListOrg + "/subscriptions?pageSize=50&pageToken=" + token)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var page struct {
			Subscriptions []struct {
				Name             string
				AssignedLicenses int32
			}
			NextPageToken string
		}
		if resp.StatusCode != 200 || json.Unmarshal(raw, &page) != nil {
			t.Fatalf("list: %d %s", resp.StatusCode, raw)
		}
		for _, sub := range page.Subscriptions {
			if want := fmt.Sprintf("organizations/%s/subscriptions/s%06d", rawchain.ListOrg, seen); sub.Name != want || sub.AssignedLicenses != int32(seen%6) {
				t.Fatalf("item %d: %+v, want %s with %d assigned", seen, sub, want, seen%6)
			}
			seen++
		}
		if token = page.NextPageToken; token == "" {
			break
		}
		if len(page.Subscriptions) != 50 {
			t.Fatalf("a page of %d before the end", len(page.Subscriptions))
		}
	}
	if seen != rawchain.ListSize || token != "" {
		t.Errorf("listed %d, want %d, token %q", seen, rawchain.ListSize, token)
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
