package gateway

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/clockrpc"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// start is where the fake services' manual clocks stand; they disagree on
// purpose, as real ones may after a crash between two moves.
var start = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// backend is a fake service running the real kit/serve interceptor chain on a
// real port.
type backend struct {
	addr  string
	clock *clock.Manual
	stop  func()
}

// harness is the gateway in front of three fake services.
type harness struct {
	t                            *testing.T
	signer                       *auth.Signer
	licensing, commerce, billing *backend
	directory                    *fakeDirectory
	subscriptions                *fakeSubscriptions
	invoices                     *fakeInvoices
	gw                           *Gateway
	url                          string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, signer: signer, directory: &fakeDirectory{}, subscriptions: &fakeSubscriptions{}, invoices: &fakeInvoices{}}
	h.licensing = startBackend(t, signer, "licensing", start, func(s *grpc.Server) {
		licensingv1.RegisterDirectoryServiceServer(s, h.directory)
	})
	h.commerce = startBackend(t, signer, "commerce", start.Add(30*time.Minute), func(s *grpc.Server) {
		commercev1.RegisterSubscriptionServiceServer(s, h.subscriptions)
	})
	h.billing = startBackend(t, signer, "billing", start.Add(time.Hour), func(s *grpc.Server) {
		billingv1.RegisterInvoiceServiceServer(s, h.invoices)
	})
	h.gw, err = New(t.Context(), Config{
		LicensingAddr: h.licensing.addr,
		CommerceAddr:  h.commerce.addr,
		BillingAddr:   h.billing.addr,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.gw.Handler())
	h.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		if err := h.gw.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return h
}

func startBackend(t *testing.T, signer *auth.Signer, name string, at time.Time, register func(*grpc.Server)) *backend {
	t.Helper()
	s := serve.NewServer(name, name+".selfserve", slog.New(slog.DiscardHandler), signer)
	register(s.Server)
	m := clock.NewManual(at, nil)
	operatorv1.RegisterClockServiceServer(s, &clockrpc.Server{Service: name, Clock: m})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis, time.Second) }()
	b := &backend{addr: lis.Addr().String(), clock: m}
	var stopped bool
	b.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	t.Cleanup(b.stop)
	return b
}

// token signs a token for a user of contoso with roles.
func (h *harness) token(sub string, roles ...string) string {
	h.t.Helper()
	c := auth.Claims{Subject: sub, Roles: roles, Expires: time.Now().Add(time.Hour).Unix()}
	if sub != "operator" {
		c.Org = "contoso"
	}
	tok, err := h.signer.Sign(c)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) operator() string { return h.token("operator", auth.Operator) }

// response is an HTTP answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; headers alternate name and value.
func (h *harness) do(method, path, body string, headers ...string) response {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return h.send(req)
}

func (h *harness) send(req *http.Request) response {
	h.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// apiError is the parsed error body with its two details.
type apiError struct {
	code int32
	info *errdetails.ErrorInfo
	msg  *errdetails.LocalizedMessage
}

// errorOf parses an error body, requiring ErrorInfo and LocalizedMessage.
func errorOf(t *testing.T, r response) apiError {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error content type %q", ct)
	}
	var st spb.Status
	if err := protojson.Unmarshal(r.body, &st); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	e := apiError{code: st.GetCode()}
	for _, d := range st.GetDetails() {
		m, err := d.UnmarshalNew()
		if err != nil {
			t.Fatalf("detail %s: %v", d.GetTypeUrl(), err)
		}
		switch m := m.(type) {
		case *errdetails.ErrorInfo:
			e.info = m
		case *errdetails.LocalizedMessage:
			e.msg = m
		}
	}
	if e.info == nil || e.msg == nil {
		t.Fatalf("error body lacks ErrorInfo or LocalizedMessage: %s", r.body)
	}
	return e
}

// wantError checks an error answer's HTTP status, reason and domain.
func wantError(t *testing.T, r response, httpStatus int, reason, domain string) apiError {
	t.Helper()
	if r.status != httpStatus {
		t.Fatalf("status %d, want %d: %s", r.status, httpStatus, r.body)
	}
	e := errorOf(t, r)
	if e.info.GetReason() != reason || e.info.GetDomain() != domain {
		t.Fatalf("ErrorInfo %v, want %s in %s", e.info, reason, domain)
	}
	return e
}
