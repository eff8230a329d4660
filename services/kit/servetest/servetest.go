// Package servetest is the kit of the services' tests: a component served
// over an in-memory or loopback listener through its real interceptor
// chain, signed tokens for every kind of caller, and the checks of an
// answer's status, reason and field. Tests import it; services never do.
package servetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/selfserve/selfserve/services/kit/auth"
)

// ServeFunc serves a component on a listener until ctx is done, letting
// calls in flight finish within grace: every component's Serve.
type ServeFunc func(ctx context.Context, lis net.Listener, grace time.Duration) error

// Serve runs serve on an in-memory listener and dials it. stop (also run
// when the test ends, once) closes the connection, stops serving, checks
// that serving ended cleanly and then calls closeFn, if any.
func Serve(t testing.TB, serve ServeFunc, closeFn func() error) (conn *grpc.ClientConn, stop func()) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, lis, time.Second) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			conn.Close()
			cancel()
			if err := <-served; err != nil {
				t.Errorf("serve: %v", err)
			}
			if closeFn != nil {
				closeFn()
			}
		})
	}
	t.Cleanup(stop)
	return conn, stop
}

// ServeTCP is Serve on a loopback port, for a component that other
// components dial by address; it answers the address.
func ServeTCP(t testing.TB, serve ServeFunc, closeFn func() error) (addr string, stop func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { serve(ctx, lis, time.Second); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if closeFn != nil {
				closeFn()
			}
		})
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// NewSigner is a token signer with a random key.
func NewSigner(t testing.TB) *auth.Signer {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	s, err := auth.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Tokens makes outgoing contexts that carry tokens signed by Signer.
type Tokens struct{ Signer *auth.Signer }

// As is a context carrying a token of claims, valid for an hour, and the
// extra metadata pairs md (accept-language, say).
func (k Tokens) As(t testing.TB, c auth.Claims, md ...string) context.Context {
	t.Helper()
	if c.Expires == 0 {
		c.Expires = time.Now().Add(time.Hour).Unix()
	}
	tok, err := k.Signer.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), append([]string{"authorization", "Bearer " + tok}, md...)...)
}

// User is a context of a user sub of org with roles.
func (k Tokens) User(t testing.TB, org, sub string, roles ...string) context.Context {
	t.Helper()
	return k.As(t, auth.Claims{Subject: sub, Org: org, Roles: roles})
}

// Operator is a context of an operator.
func (k Tokens) Operator(t testing.TB) context.Context {
	t.Helper()
	return k.As(t, auth.Claims{Subject: "operator", Roles: []string{auth.Operator}})
}

// Service is a context of the selfserve service name calling.
func (k Tokens) Service(t testing.TB, name string) context.Context {
	t.Helper()
	return k.As(t, auth.Claims{Subject: name, Roles: []string{auth.Service}})
}

// ErrorInfo is the ErrorInfo of a status error; empty when it has none.
func ErrorInfo(err error) *errdetails.ErrorInfo {
	s, _ := status.FromError(err)
	for _, d := range s.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return &errdetails.ErrorInfo{}
}

// Reason is the ErrorInfo reason of a status error.
func Reason(err error) string { return ErrorInfo(err).GetReason() }

// WantStatus fails the test unless err is a status of code with the
// ErrorInfo reason and, when field is not empty, that metadata field.
func WantStatus(t testing.TB, err error, code codes.Code, reason, field string) {
	t.Helper()
	info := ErrorInfo(err)
	if status.Code(err) != code || info.GetReason() != reason {
		t.Fatalf("got %v (reason %q), want %v %s", err, info.GetReason(), code, reason)
	}
	if field != "" && info.GetMetadata()["field"] != field {
		t.Fatalf("got field %q (%v), want %q", info.GetMetadata()["field"], err, field)
	}
}

// Buffer collects what several goroutines write (a component's logs, a
// process's standard error) and reads it back whole.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes is a copy of what was written.
func (l *Buffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// String is what was written.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
