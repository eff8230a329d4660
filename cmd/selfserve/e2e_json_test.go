package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// answer is a whole HTTP answer of the edge.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// send is do with the headers of the answer.
func (r *running) send(t *testing.T, c call) answer {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, r.url+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s: not JSON (%d): %s", c.method, c.path, resp.StatusCode, raw)
	}
	return a
}

// errorInfo is the ErrorInfo and LocalizedMessage of an error body.
func errorInfo(body map[string]any) (info, localized map[string]any) {
	details, _ := body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		switch m["@type"] {
		case "type.googleapis.com/google.rpc.ErrorInfo":
			info = m
		case "type.googleapis.com/google.rpc.LocalizedMessage":
			localized = m
		}
	}
	return info, localized
}

func metadataOf(info map[string]any) map[string]any {
	md, _ := info["metadata"].(map[string]any)
	return md
}

// TestEndToEndJSON checks the JSON edge speaks JSON (issue 13): decode
// errors, required fields, a profile without a payment method, cards without
// secret keys, the same reason with no token on both edges, replay and
// request id headers.
func TestEndToEndJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := startDev(t, binary(t), t.TempDir(), "--log-level", "debug")
	s := &shop{t: t, r: r}
	maxTok := r.tokens["contoso/max"]
	plain, _, _, _, _ := s.products(maxTok)
	profile, account := s.wallet(maxTok, "4242424242424242")

	t.Run("decode errors", func(t *testing.T) {
		sub := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(plain, profile, 1, ""))
		cancel := "/v1/" + sub["name"].(string) + ":cancel"
		for _, tt := range []struct {
			name, path, body, reason, field, allowed string
		}{
			{"unknown enum value", cancel, `{"reason":"EXPENSIVE"}`, "INVALID_FIELD", "reason", "NO_LONGER_NEEDED,TOO_EXPENSIVE,"},
			{"unknown field", cancel, `{"reason":"TOO_EXPENSIVE","feedbak":"x"}`, "INVALID_FIELD", "feedbak", ""},
			{"wrong type", "/v1/organizations/contoso/subscriptions:purchase", `{"quantity":"five"}`, "INVALID_FIELD", "quantity", ""},
			{"malformed JSON", cancel, `{"reason":`, "INVALID_JSON", "", ""},
			{"nested field of a body", "/v1/organizations/contoso/billingAccounts", `{"displayName":"X","soldTo":{"countryCode":46}}`,
				"INVALID_FIELD", "billingAccount.soldTo.countryCode", ""},
			{"query parameter", "/v1/organizations/contoso/subscriptions?pageSize=many", "", "INVALID_FIELD", "pageSize", ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				method := "POST"
				if tt.body == "" {
					method = "GET"
				}
				a := r.send(t, call{method: method, path: tt.path, token: maxTok, body: tt.body, headers: map[string]string{"Accept-Language": "fr"}})
				info, loc := errorInfo(a.body)
				if a.status != http.StatusBadRequest || info["reason"] != tt.reason {
					t.Fatalf("%d %s, want 400 %s", a.status, a.raw, tt.reason)
				}
				md := metadataOf(info)
				if got, _ := md["field"].(string); got != tt.field {
					t.Errorf("field %q, want %q (%s)", got, tt.field, a.raw)
				}
				if got, _ := md["allowed"].(string); !strings.HasPrefix(got, tt.allowed) {
					t.Errorf("allowed %q, want it to start with %q", got, tt.allowed)
				}
				if loc["locale"] != "fr" || loc["message"] == "" {
					t.Errorf("localized message %v, want one in fr", loc)
				}
				msg, _ := a.body["message"].(string)
				for _, internal := range []string{"proto:", "protojson", "syntax error", "json: cannot", "(line "} {
					if strings.Contains(msg, internal) {
						t.Errorf("message shows a decoder's own text: %q", msg)
					}
				}
			})
		}
	})

	t.Run("required field", func(t *testing.T) {
		a := r.send(t, call{method: "POST", path: "/v1/organizations/contoso/subscriptions:purchase", token: maxTok,
			body: fmt.Sprintf(`{"product":%q,"quantity":1,"billingFrequency":"MONTHLY"}`, plain)})
		info, _ := errorInfo(a.body)
		msg, _ := a.body["message"].(string)
		if a.status != http.StatusBadRequest || metadataOf(info)["field"] != "billingProfile" || !strings.Contains(msg, "billingProfile is required") {
			t.Fatalf("%d %s, want 400 saying billingProfile is required", a.status, a.raw)
		}
	})

	t.Run("no payment method", func(t *testing.T) {
		acct := s.ok("POST", "/v1/organizations/contoso/billingAccounts", maxTok, `{"displayName":"Empty","soldTo":{"countryCode":"SE"}}`)
		bare := acct["name"].(string) + "/billingProfiles/default"
		a := r.send(t, call{method: "POST", path: "/v1/organizations/contoso/subscriptions:purchase", token: maxTok, body: buy(plain, bare, 1, "")})
		info, _ := errorInfo(a.body)
		msg, _ := a.body["message"].(string)
		if a.status != http.StatusBadRequest || info["reason"] != "PAYMENT_METHOD_REQUIRED" || a.body["code"] != float64(9) ||
			!strings.Contains(msg, bare) || metadataOf(info)["billing_profile"] != bare || metadataOf(info)["field"] != "billingProfile" {
			t.Fatalf("%d %s, want 400 FAILED_PRECONDITION PAYMENT_METHOD_REQUIRED naming %s", a.status, a.raw, bare)
		}
	})

	t.Run("cards show no secrets", func(t *testing.T) {
		list := r.send(t, call{method: "GET", path: "/v1/" + account + "/paymentMethods", token: maxTok})
		if strings.Contains(list.raw, `"number"`) || strings.Contains(list.raw, `"securityCode"`) {
			t.Fatalf("a card answers secret-looking keys: %s", list.raw)
		}
		methods, _ := list.body["paymentMethods"].([]any)
		if len(methods) == 0 {
			t.Fatalf("no payment methods: %s", list.raw)
		}
		card, _ := methods[0].(map[string]any)["card"].(map[string]any)
		for _, key := range []string{"brand", "last4", "expMonth", "expYear", "holderName"} {
			if _, ok := card[key]; !ok {
				t.Errorf("the card lacks %s: %v", key, card)
			}
		}
		if card["last4"] != "4242" || card["brand"] != "VISA" {
			t.Errorf("card %v", card)
		}
	})

	t.Run("no token", func(t *testing.T) {
		for _, path := range []string{"/v1/organizations/contoso", "/v1/organizations/contoso/subscriptions", "/v1/" + account, "/v1/clock"} {
			a := r.send(t, call{method: "GET", path: path})
			info, _ := errorInfo(a.body)
			if a.status != http.StatusUnauthorized || info["reason"] != "TOKEN_MISSING" {
				t.Errorf("GET %s without a token: %d %s, want 401 TOKEN_MISSING", path, a.status, a.raw)
			}
		}
		for _, empty := range []string{"", "Bearer", "Bearer "} {
			a := r.send(t, call{method: "GET", path: "/v1/organizations/contoso", headers: map[string]string{"Authorization": empty}})
			if info, _ := errorInfo(a.body); a.status != http.StatusUnauthorized || info["reason"] != "TOKEN_MISSING" {
				t.Errorf("Authorization %q: %d %s, want 401 TOKEN_MISSING", empty, a.status, a.raw)
			}
		}
		conn, err := serve.Dial(r.grpc["licensing"])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, empty := range []string{"", "Bearer", "Bearer "} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if empty != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", empty)
			}
			_, err = licensingv1.NewDirectoryServiceClient(conn).GetOrganization(ctx, &licensingv1.GetOrganizationRequest{Name: "organizations/contoso"})
			cancel()
			reason := ""
			for _, d := range status.Convert(err).Details() {
				if info, ok := d.(*errdetails.ErrorInfo); ok {
					reason = info.GetReason()
				}
			}
			if reason != "TOKEN_MISSING" {
				t.Errorf("gRPC with authorization %q: %v, want TOKEN_MISSING", empty, err)
			}
		}
	})

	t.Run("replay and request id", func(t *testing.T) {
		c := call{method: "POST", path: "/v1/organizations/contoso/subscriptions:purchase", token: maxTok,
			body: buy(plain, profile, 2, ""), headers: map[string]string{"Idempotency-Key": "json-edge-replay-1"}}
		first := r.send(t, c)
		again := r.send(t, c)
		if first.status != 200 || again.status != 200 || first.body["name"] != again.body["name"] {
			t.Fatalf("purchase and replay: %d %s / %d %s", first.status, first.raw, again.status, again.raw)
		}
		if first.header.Get("Idempotent-Replayed") != "" {
			t.Errorf("a first call is marked replayed")
		}
		if again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("a replay answers Idempotent-Replayed %q, want true (headers %v)", again.header.Get("Idempotent-Replayed"), again.header)
		}
		for k := range again.header {
			if strings.HasPrefix(k, "Grpc-Metadata-Idempotent") || strings.HasPrefix(k, "Grpc-Metadata-Request-Id") {
				t.Errorf("the edge leaks %s", k)
			}
		}
		ids := map[string]bool{}
		for _, a := range []answer{first, again, r.send(t, call{method: "GET", path: "/v1/nowhere"})} {
			id := a.header.Get("Request-Id")
			if !strings.HasPrefix(id, "req_") || ids[id] {
				t.Fatalf("Request-Id %q: want a new req_ id on every answer", id)
			}
			ids[id] = true
		}
		// The gateway's line and the services' lines of the call carry the id.
		id := again.header.Get("Request-Id")
		deadline := time.Now().Add(5 * time.Second)
		for {
			var httpLine, rpcLine bool
			for _, line := range strings.Split(r.stderr.String(), "\n") {
				if strings.Contains(line, id) {
					httpLine = httpLine || strings.Contains(line, "msg=http")
					rpcLine = rpcLine || strings.Contains(line, "PurchaseSubscription")
				}
			}
			if httpLine && rpcLine {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("request id %s: gateway line %v, commerce line %v in the log", id, httpLine, rpcLine)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
