package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestSignAndVerify(t *testing.T) {
	at := time.Unix(1765000000, 0)
	body := []byte(`{"name":"organizations/contoso/events/e-1"}`)
	// HMAC-SHA256 keyed whsec_test over "1765000000." + body, computed
	// outside Go: printf '%s' "1765000000.$body" | openssl dgst -sha256 -hmac whsec_test
	const want = "t=1765000000,v1=eecac4236d70f9156f5897547de62f3b65410f56ec82a20d411b6ca6e70f8cf2"
	got := Sign("whsec_test", at, body)
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if err := Verify("whsec_test", got, body, at.Add(time.Minute), SignatureTolerance); err != nil {
		t.Fatalf("Verify of its own signature: %v", err)
	}
	for _, tc := range []struct {
		name, secret, header string
		body                 []byte
		now                  time.Time
		want                 error
	}{
		{"another body", "whsec_test", got, []byte(`{}`), at, ErrBadSignature},
		{"another secret", "whsec_other", got, body, at, ErrBadSignature},
		{"too old", "whsec_test", got, body, at.Add(6 * time.Minute), ErrTooOld},
		{"from the future", "whsec_test", got, body, at.Add(-6 * time.Minute), ErrTooOld},
		{"no v1", "whsec_test", "t=1765000000", body, at, ErrNoSignature},
		{"no t", "whsec_test", strings.TrimPrefix(got, "t=1765000000,"), body, at, ErrNoSignature},
		{"empty", "whsec_test", "", body, at, ErrNoSignature},
	} {
		if err := Verify(tc.secret, tc.header, tc.body, tc.now, SignatureTolerance); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A rolled secret: either v1 may match.
	both := got + ",v1=" + strings.Repeat("0", 64)
	if err := Verify("whsec_test", both, body, at, SignatureTolerance); err != nil {
		t.Errorf("two v1: %v", err)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if !strings.HasPrefix(a, "whsec_") || len(a) != len("whsec_")+43 || a == b {
		t.Fatalf("secrets %q %q", a, b)
	}
}

func TestNextAttempt(t *testing.T) {
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for n, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 9: 2560 * time.Second, 10: time.Hour, 40: time.Hour} {
		next, ok := NextAttempt(created, created, n)
		if !ok || next.Sub(created) != want {
			t.Errorf("after %d failures: %v %v, want %v", n, next.Sub(created), ok, want)
		}
	}
	// The schedule ends 3 days after the event.
	if _, ok := NextAttempt(created, created.Add(71*time.Hour+30*time.Minute), 30); ok {
		t.Error("a retry past 3 days was scheduled")
	}
	if next, ok := NextAttempt(created, created.Add(70*time.Hour), 30); !ok || next != created.Add(71*time.Hour) {
		t.Errorf("last retry: %v %v", next, ok)
	}
	// At most about 80 attempts in all: a bounded schedule.
	attempts, at := 1, created
	for {
		next, ok := NextAttempt(created, at, attempts)
		if !ok {
			break
		}
		at, attempts = next, attempts+1
	}
	if attempts < 70 || attempts > 90 {
		t.Errorf("%d attempts over 3 days", attempts)
	}
}

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:4700::6810:84e5": true, "8.8.8.8": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fc00::1": false, "::ffff:127.0.0.1": false,
		"224.0.0.1": false, "198.18.0.1": false, "64:ff9b::a00:1": false,
	} {
		if got := public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("public(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	strict := Policy{}
	for _, raw := range []string{
		"http://93.184.215.14/hook",         // plain http
		"https://127.0.0.1/hook",            // loopback
		"https://[::1]:8443/hook",           // loopback v6
		"https://169.254.169.254/latest",    // cloud metadata
		"https://10.0.0.7/hook",             // private
		"https://localhost/hook",            // resolves to loopback
		"https://user:pw@93.184.215.14/x",   // credentials
		"ftp://93.184.215.14/x",             // scheme
		"/relative",                         // not absolute
		"https://93.184.215.14/hook#part",   // fragment
		"https://no-such-host.invalid/hook", // does not resolve
	} {
		if err := strict.CheckURL(ctx, raw); err == nil {
			t.Errorf("CheckURL(%q) passed", raw)
		}
	}
	if err := strict.CheckURL(ctx, "https://93.184.215.14:8443/hooks?x=1"); err != nil {
		t.Errorf("a public https URL: %v", err)
	}
	loose := Policy{AllowPrivate: true}
	for _, raw := range []string{"http://127.0.0.1:9000/hook", "https://localhost/hook"} {
		if err := loose.CheckURL(ctx, raw); err != nil {
			t.Errorf("AllowPrivate: CheckURL(%q): %v", raw, err)
		}
	}
	if err := loose.CheckURL(ctx, "ftp://127.0.0.1/"); err == nil {
		t.Error("AllowPrivate still takes only http and https")
	}
}

func TestSend(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	now := time.Now()
	req := Request{URL: srv.URL + "/hook", Secret: "whsec_s", Event: "organizations/o/events/e1", Delivery: "organizations/o/webhooks/w/deliveries/1", Body: []byte(`{"a":1}`)}

	// The strict client will not dial the test server's loopback address.
	if _, err := Send(context.Background(), Policy{}.Client(), req, now); !errors.Is(err, ErrPrivate) {
		t.Fatalf("strict client reached loopback: %v", err)
	}
	if got != nil {
		t.Fatal("the request arrived")
	}
	c := Policy{AllowPrivate: true}.Client()
	code, err := Send(context.Background(), c, req, now)
	if err != nil || code != 204 {
		t.Fatalf("Send: %d %v", code, err)
	}
	if got.Method != "POST" || got.URL.Path != "/hook" || got.Header.Get("Content-Type") != "application/json" ||
		got.Header.Get(EventHeader) != req.Event || got.Header.Get(DeliveryHeader) != req.Delivery || string(gotBody) != `{"a":1}` {
		t.Fatalf("request: %s %s %v %s", got.Method, got.URL, got.Header, gotBody)
	}
	if err := Verify("whsec_s", got.Header.Get(SignatureHeader), gotBody, now, SignatureTolerance); err != nil {
		t.Fatalf("the signature does not verify: %v", err)
	}
	status = http.StatusInternalServerError
	if code, err := Send(context.Background(), c, req, now); err == nil || code != 500 {
		t.Fatalf("a 500 is a failure: %d %v", code, err)
	}
	status = http.StatusFound // a redirect is not followed, and not a success
	if code, err := Send(context.Background(), c, req, now); err == nil || code != 302 {
		t.Fatalf("a redirect: %d %v", code, err)
	}
}
