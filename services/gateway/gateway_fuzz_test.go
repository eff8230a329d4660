package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/clockrpc"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// fuzzEdge is the gateway in front of the fake services of fakes_test.go,
// built once per fuzz target: newHarness wants a *testing.T, which a fuzz
// target only has per input.
type fuzzEdge struct {
	handler       http.Handler
	signer        *auth.Signer
	subscriptions *fakeSubscriptions
}

func newFuzzEdge(tb testing.TB) *fuzzEdge {
	tb.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		tb.Fatal(err)
	}
	signer, err := auth.NewSigner(key)
	if err != nil {
		tb.Fatal(err)
	}
	licensing := startFuzzBackend(tb, signer, "licensing", start, func(s *grpc.Server) {
		licensingv1.RegisterDirectoryServiceServer(s, &fakeDirectory{})
	})
	subscriptions := &fakeSubscriptions{}
	commerce := startFuzzBackend(tb, signer, "commerce", start.Add(30*time.Minute), func(s *grpc.Server) {
		commercev1.RegisterSubscriptionServiceServer(s, subscriptions)
	})
	billing := startFuzzBackend(tb, signer, "billing", start.Add(time.Hour), func(s *grpc.Server) {
		billingv1.RegisterInvoiceServiceServer(s, &fakeInvoices{})
	})
	gw, err := New(context.Background(), Config{LicensingAddr: licensing, CommerceAddr: commerce, BillingAddr: billing})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := gw.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return &fuzzEdge{handler: gw.Handler(), signer: signer, subscriptions: subscriptions}
}

// startFuzzBackend is startBackend for any testing.TB; it returns the address.
func startFuzzBackend(tb testing.TB, signer *auth.Signer, name string, at time.Time, register func(*grpc.Server)) string {
	tb.Helper()
	s := serve.NewServer(name, name+".selfserve", slog.New(slog.DiscardHandler), signer)
	register(s.Server)
	operatorv1.RegisterClockServiceServer(s, &clockrpc.Server{Service: name, Clock: clock.NewManual(at, nil)})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis, time.Second) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("%s: %v", name, err)
		}
	})
	return lis.Addr().String()
}

func (e *fuzzEdge) sign(tb testing.TB, c auth.Claims) string {
	tb.Helper()
	tok, err := e.signer.Sign(c)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// The Authorization header a fuzzed request carries, by auth % 6.
const (
	authNone = iota
	authAlice
	authOperator
	authExpired
	authForged
	authRaw // the fuzzed raw value
)

// fuzzMaxBody bounds a fuzzed body; pad adds up to fuzzMaxPad spaces after
// it, so that bodies around the 1 MiB limit are cheap to reach.
const (
	fuzzMaxBody = 64 << 10
	fuzzMaxPad  = serve.MaxRequestBytes + 64<<10
)

// domains are the ErrorInfo domains an answer may name.
var domains = map[string]bool{
	domain: true, "licensing.selfserve": true, "commerce.selfserve": true, "billing.selfserve": true,
}

// FuzzJSONEdge sends fuzzed requests (method, path and query, body, content
// type, token, Accept-Language, Idempotency-Key and one more header of any
// name) through the gateway's handler to the fake services, and asks of
// every answer:
//   - no panic, and no 5xx but 501 (an RPC the fakes leave unimplemented),
//     503, and 504 when the client set its own Grpc-Timeout;
//   - an Idempotency-Key reaches the service as it was sent, or the request
//     is refused;
//   - an error is a JSON {code, message, details} with an ErrorInfo of a
//     known domain and a LocalizedMessage, its HTTP status the one of its
//     code (but 405 and 413), 401 with a Bearer challenge, never offered as
//     a download;
//   - a success is JSON, or the fake invoice PDF as an attachment;
//   - a body declared over 1 MiB is 413, and 413 is only for such bodies;
//   - the bearer token never comes back.
func FuzzJSONEdge(f *testing.F) {
	e := newFuzzEdge(f)
	purchase := `{"product":"products/p1","quantity":3,"billingFrequency":"MONTHLY","requestId":"r1"}`
	for _, s := range []struct {
		method, path string
		body         string
		contentType  string
		auth         uint8
		raw          string
		lang, idem   string
		name, value  string
		pad          uint32
		chunked      bool
	}{
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/fabrikam", "", "", authAlice, "", "fr-CA", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authNone, "", "zh-Hans", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authExpired, "", "sv", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authForged, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authRaw, "Bearer ", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authRaw, "Basic YWxpY2U6c2VjcmV0", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authRaw, "Bearer a.b.c", "", "", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", purchase, "application/json", authAlice, "", "", "order-42", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", purchase, "application/json", authAlice, "", "", "bad key é", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", `{"product":"products/p1","bogus":true}`, "application/json", authAlice, "", "fr", "", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", `{"product":`, "application/json", authAlice, "", "", "", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", `{"quantity":"many"}`, "", authAlice, "", "", "", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", `{"quantity":99999999999999999999}`, "", authAlice, "", "", "", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", `{"billingFrequency":"WEEKLY"}`, "", authAlice, "", "", "", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", "\xff\xfe\x00", "text/plain", authAlice, "", "", "", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", `[]`, "application/x-www-form-urlencoded", authAlice, "", "", "", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", `{"product":"\u0000"}`, "", authAlice, "", "", "", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", purchase, "application/json", authAlice, "", "", "", "", "", serve.MaxRequestBytes, false},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", purchase, "application/json", authAlice, "", "", "", "", "", serve.MaxRequestBytes, true},
		{"POST", "/v1/organizations/contoso/subscriptions:purchase", "{}", "application/json", authAlice, "", "", "", "", "", serve.MaxRequestBytes - 2, false},
		{"GET", "/v1/organizations/contoso", "{}", "", authAlice, "", "", "", "", "", serve.MaxRequestBytes, false},
		{"GET", "/v1/organizations/contoso", "{}", "", authAlice, "", "", "", "", "", serve.MaxRequestBytes, true},
		{"GET", "/v1/organizations/contoso/billingAccounts/ba1/invoices/inv1:download", "", "", authAlice, "", "fr", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso/billingAccounts/ba1/invoices/inv2:download", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso/billingAccounts/ba1/invoices/inv1", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso/subscriptions?pageSize=-1&pageToken=%25%25", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/products?pageSize=99999999999999", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso/users?query=%00%ff", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/healthz", "", "", authNone, "", "", "", "", "", 0, false},
		{"POST", "/healthz", "{}", "", authNone, "", "", "", "", "", 0, false},
		{"GET", "/openapi.json", "", "", authNone, "", "", "", "", "", 0, false},
		{"GET", "/v1/clock", "", "", authOperator, "", "", "", "", "", 0, false},
		{"POST", "/v1/clock:advance", `{"duration":"3600s"}`, "", authOperator, "", "sv", "", "", "", 0, false},
		{"POST", "/v1/clock:advance", `{"duration":"-1s"}`, "", authOperator, "", "", "", "", "", 0, false},
		{"POST", "/v1/clock:advance", `{"duration":"315576000000s"}`, "", authOperator, "", "", "", "", "", 0, false},
		{"POST", "/v1/clock:advance", `{"until":"9999-12-31T23:59:59Z"}`, "", authOperator, "", "", "", "", "", 0, false},
		{"POST", "/v1/clock:advance", `{"until":"0001-01-01T00:00:00Z"}`, "", authOperator, "", "", "", "", "", 0, false},
		{"POST", "/v1/clock:advance", `{"duration":"3600s"}`, "", authAlice, "", "", "", "", "", 0, false},
		{"DELETE", "/v1/products", "", "", authAlice, "", "", "", "", "", 0, false},
		{"PUT", "/v2/organizations", "{}", "", authAlice, "", "", "", "", "", 0, false},
		{"get", "/v1/organizations/contoso", "", "", authAlice, "", "", "", "", "", 0, false},
		{"PATCH", "/v1/organizations/contoso/productPolicies/p1", `{"value":"DISABLED"}`, "", authAlice, "", "", "", "", "", 0, false},
		{"OPTIONS", "*", "", "", authNone, "", "", "", "", "", 0, false},
		{"GET", "/", "", "", authNone, "", "", "", "", "", 0, false},
		{"GET", "", "", "", authNone, "", "", "", "", "", 0, false},
		{"GET", "//v1//organizations//contoso", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/../organizations/contoso", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/%2e%2e", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso%2Fusers%2Falice", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso%00", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/%ff%fe", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/cöntoso", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v9/%ff", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/products?%ff=1", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/products?a=%zz&pageToken=%ff", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/" + strings.Repeat("a", 8000), "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso:issueToken", "", "", authAlice, "", "", "", "", "", 0, false},
		{"POST", "/v1/organizations/contoso/users/alice:issueToken", "", "", authAlice, "", "", "", "", "", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "*;q=0.1, fr;q=abc, ", "", "Grpc-Metadata-Authorization", "Bearer x", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "\xff", "", "Grpc-Metadata-X-Test", "é", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "", "", "Grpc-Metadata-Bin-Bin", "!!", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "", "", "Grpc-Metadata-X-Bin", "!!", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "", "", "Grpc-Timeout", "1n", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "", "", "Grpc-Timeout", "zz", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "", "", "Content-Type", "application/grpc", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "", "", "X-Forwarded-For", "::1, 10.0.0.1", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "", "", "Accept", "application/pdf", 0, false},
		{"GET", "/v1/organizations/contoso", "", "", authAlice, "", "", "", "Te", "trailers", 0, false},
	} {
		f.Add(s.method, s.path, []byte(s.body), s.contentType, s.auth, s.raw, s.lang, s.idem, s.name, s.value, s.pad, s.chunked)
	}

	alice := e.sign(f, auth.Claims{Subject: "alice", Org: "contoso", Expires: time.Now().Add(24 * time.Hour).Unix()})
	operator := e.sign(f, auth.Claims{Subject: "operator", Roles: []string{auth.Operator}, Expires: time.Now().Add(24 * time.Hour).Unix()})
	expired := e.sign(f, auth.Claims{Subject: "alice", Org: "contoso", Expires: time.Now().Add(-time.Minute).Unix()})
	forged := alice[:strings.LastIndexByte(alice, '.')+1] + strings.Repeat("A", 43)

	f.Fuzz(func(t *testing.T, method, path string, body []byte, contentType string, authMode uint8, raw, lang, idemKey, name, value string, pad uint32, chunked bool) {
		if len(method) > 32 || len(path) > 8<<10 || len(body) > fuzzMaxBody || len(contentType) > 256 ||
			len(raw) > 4<<10 || len(lang) > 256 || len(idemKey) > 256 || len(name) > 128 || len(value) > 1<<10 {
			return
		}
		if !strings.HasPrefix(path, "/") && path != "*" {
			path = "/" + path
		}
		if pad > 0 {
			// Trailing spaces keep a JSON body valid: only its size changes.
			body = append(body, bytes.Repeat([]byte{' '}, int(pad%fuzzMaxPad))...)
		}
		var r io.Reader
		if len(body) > 0 {
			r = bytes.NewReader(body)
		}
		req, err := http.NewRequest(method, "http://gateway.test"+path, r)
		if err != nil {
			return // net/http would not have parsed such a request line either
		}
		if req.Body == nil {
			req.Body = http.NoBody // as a server request always has one
		}
		if chunked {
			req.ContentLength = -1
			req.TransferEncoding = []string{"chunked"}
			if r != nil {
				req.Body = io.NopCloser(r) // hides the length from the handler
			}
		}
		var token string
		switch authMode % 6 {
		case authAlice:
			token = alice
		case authOperator:
			token = operator
		case authExpired:
			token = expired
		case authForged:
			token = forged
		}
		for _, h := range [][2]string{
			{"Content-Type", contentType}, {"Accept-Language", lang}, {"Idempotency-Key", idemKey}, {name, value},
		} {
			if h[1] != "" && validHeader(h[0], h[1]) {
				req.Header.Set(h[0], h[1])
			}
		}
		switch {
		case token != "":
			req.Header.Set("Authorization", "Bearer "+token)
		case authMode%6 == authRaw && validHeader("Authorization", raw):
			req.Header.Set("Authorization", raw)
		}

		_, purchasesBefore := e.subscriptions.last()
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, req)
		resp := w.Result()
		got, _ := io.ReadAll(resp.Body)
		status := resp.StatusCode
		describe := func() string {
			return req.Method + " " + path + " (" + strconv.Itoa(len(body)) + " bytes, chunked " + strconv.FormatBool(chunked) + ") → " +
				strconv.Itoa(status) + " " + resp.Header.Get("Content-Type") + ": " + string(got[:min(len(got), 2000)])
		}

		switch {
		case status < 500, status == http.StatusNotImplemented, status == http.StatusServiceUnavailable:
		case status == http.StatusGatewayTimeout && req.Header.Get("Grpc-Timeout") != "":
			// The runtime honours a client's own deadline.
		default:
			t.Fatalf("server error: %s", describe())
		}
		if md, n := e.subscriptions.last(); n != purchasesBefore {
			if want := req.Header.Values("Idempotency-Key"); len(want) > 0 && !slices.Equal(md.Get(idem.Header), want) {
				t.Fatalf("Idempotency-Key %q reached the service as %q: %s", want, md.Get(idem.Header), describe())
			}
		}
		if token != "" && (bytes.Contains(got, []byte(token)) || headersHold(resp.Header, token)) {
			t.Fatalf("the bearer token came back: %s", describe())
		}
		if req.ContentLength > serve.MaxRequestBytes && status != http.StatusRequestEntityTooLarge {
			t.Fatalf("a body of %d bytes was not refused: %s", req.ContentLength, describe())
		}
		if status == http.StatusRequestEntityTooLarge && len(body) <= serve.MaxRequestBytes {
			t.Fatalf("413 for a body of %d bytes: %s", len(body), describe())
		}

		if req.URL.Path == "/healthz" && req.Method == http.MethodGet && (status == http.StatusOK || status == http.StatusServiceUnavailable) {
			// Its own body, checked by health_test.go.
			var h health
			if err := json.Unmarshal(got, &h); err != nil || h.Status == "" {
				t.Fatalf("healthz: %s", describe())
			}
			return
		}
		if status < 400 {
			if ct := resp.Header.Get("Content-Type"); ct == "application/pdf" {
				if !bytes.Equal(got, pdf) || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
					t.Fatalf("download: %s", describe())
				}
				return
			}
			if !json.Valid(got) {
				t.Fatalf("a success that is not JSON: %s", describe())
			}
			return
		}

		// An error.
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("error content type %q: %s", ct, describe())
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != "" {
			t.Fatalf("an error offered as a download (%q): %s", cd, describe())
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(got, &fields); err != nil {
			t.Fatalf("error body: %v: %s", err, describe())
		}
		for _, k := range []string{"code", "message", "details"} {
			if _, ok := fields[k]; !ok {
				t.Fatalf("error body without %q: %s", k, describe())
			}
		}
		var st spb.Status
		if err := protojson.Unmarshal(got, &st); err != nil {
			t.Fatalf("error body is not a google.rpc.Status: %v: %s", err, describe())
		}
		var info *errdetails.ErrorInfo
		var localized *errdetails.LocalizedMessage
		for _, d := range st.GetDetails() {
			m, err := d.UnmarshalNew()
			if err != nil {
				t.Fatalf("detail %s: %v: %s", d.GetTypeUrl(), err, describe())
			}
			switch m := m.(type) {
			case *errdetails.ErrorInfo:
				info = m
			case *errdetails.LocalizedMessage:
				localized = m
			}
		}
		switch {
		case info == nil || info.GetReason() == "" || !domains[info.GetDomain()]:
			t.Fatalf("error without a proper ErrorInfo (%v): %s", info, describe())
		case localized == nil || localized.GetMessage() == "" || localized.GetLocale() == "":
			t.Fatalf("error without a LocalizedMessage: %s", describe())
		case st.GetCode() == int32(codes.OK):
			t.Fatalf("error with code OK: %s", describe())
		}
		code := codes.Code(st.GetCode())
		switch {
		case status == http.StatusMethodNotAllowed && code == codes.Unimplemented:
		case status == http.StatusRequestEntityTooLarge && code == codes.ResourceExhausted:
		case runtime.HTTPStatusFromCode(code) != status:
			t.Fatalf("HTTP status %d for code %s: %s", status, code, describe())
		}
		if status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="selfserve"`) {
			t.Fatalf("401 without a Bearer challenge: %s", describe())
		}
	})
}

// validHeader tells whether net/http would have read this header off the
// wire: a token name and a value without control characters but tab. The
// fuzzer may build others, which no client can send.
func validHeader(name, value string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "", "Content-Length", "Transfer-Encoding", "Host":
		// net/http reads these into the request itself.
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func headersHold(h http.Header, s string) bool {
	for _, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, s) {
				return true
			}
		}
	}
	return false
}
