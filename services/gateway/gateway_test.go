package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
)

func TestNoTokenIsUnauthenticated(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/organizations/contoso", "")
	wantError(t, r, http.StatusUnauthorized, "TOKEN_MISSING", "licensing.selfserve")
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="selfserve"` {
		t.Fatalf("challenge %q", got)
	}
	r = h.do("GET", "/v1/organizations/contoso", "", "Authorization", "Bearer forged")
	wantError(t, r, http.StatusUnauthorized, "TOKEN_INVALID", "licensing.selfserve")
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="selfserve", error="invalid_token"` {
		t.Fatalf("challenge %q", got)
	}
}

func TestBackendErrorKeepsReasonAndLanguage(t *testing.T) {
	h := newHarness(t)
	tok := "Bearer " + h.token("alice")
	for _, tc := range []struct{ acceptLanguage, locale string }{
		{"", "en"},
		{"fr-CA", "fr"},
		{"sv-SE,sv;q=0.9", "sv"},
		{"zh-Hans", "zh-CN"},
		{"de", "en"},
	} {
		t.Run(tc.acceptLanguage, func(t *testing.T) {
			headers := []string{"Authorization", tok}
			if tc.acceptLanguage != "" {
				headers = append(headers, "Accept-Language", tc.acceptLanguage)
			}
			r := h.do("GET", "/v1/organizations/fabrikam", "", headers...)
			e := wantError(t, r, http.StatusNotFound, "RESOURCE_NOT_FOUND", "licensing.selfserve")
			if e.code != 5 || e.msg.GetLocale() != tc.locale || e.msg.GetMessage() == "" {
				t.Fatalf("code %d, localized %v; want locale %s", e.code, e.msg, tc.locale)
			}
			if e.info.GetMetadata()["resource"] != "organizations/fabrikam" {
				t.Fatalf("metadata lost: %v", e.info)
			}
		})
	}
}

func TestCanonicalJSON(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/organizations/contoso", "", "Authorization", "Bearer "+h.token("alice"))
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	// lowerCamelCase names, enum names, unpopulated fields present.
	if got["displayName"] != "Contoso" || got["cloud"] != "GLOBAL" {
		t.Fatalf("body %s", r.body)
	}
	if v, ok := got["countryCode"]; !ok || v != "" {
		t.Fatalf("unpopulated countryCode not emitted: %s", r.body)
	}
	// The edge's bytes are protojson's (less its random spaces): the body,
	// read back and written by protojson, is the same body.
	var org licensingv1.Organization
	if err := protojson.Unmarshal(r.body, &org); err != nil {
		t.Fatal(err)
	}
	want, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(&org)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(r.body), compact.Bytes()) {
		t.Fatalf("body\n%s\nprotojson\n%s", r.body, compact.Bytes())
	}

	r = h.do("POST", "/v1/organizations/contoso/subscriptions:purchase",
		`{"product":"products/p1","quantity":3,"billingFrequency":"MONTHLY"}`,
		"Authorization", "Bearer "+h.token("alice"))
	if r.status != http.StatusOK {
		t.Fatalf("purchase status %d: %s", r.status, r.body)
	}
	// int64 travels as a string.
	if !strings.Contains(string(r.body), `"amountMinor":"1250"`) || !strings.Contains(string(r.body), `"state":"ACTIVE"`) {
		t.Fatalf("purchase body %s", r.body)
	}
}

func TestHeadersReachTheService(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/v1/organizations/contoso/subscriptions:purchase", `{"product":"products/p1","quantity":1}`,
		"Authorization", "Bearer "+h.token("alice"),
		"Idempotency-Key", "order-42",
		"Accept-Language", "sv")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	md, n := h.subscriptions.last()
	if n != 1 {
		t.Fatalf("%d purchases", n)
	}
	for key, want := range map[string]string{"idempotency-key": "order-42", "accept-language": "sv"} {
		if v := md.Get(key); len(v) != 1 || v[0] != want {
			t.Errorf("metadata %s = %q, want %q", key, v, want)
		}
	}
	if v := md.Get("authorization"); len(v) != 1 {
		t.Errorf("authorization sent %d times", len(v))
	}
	if v := md.Get("grpcgateway-authorization"); len(v) != 0 {
		t.Errorf("token copied into grpcgateway-authorization")
	}
}

func TestBadBodiesAreRefused(t *testing.T) {
	h := newHarness(t)
	tok := "Bearer " + h.token("alice")
	for name, tt := range map[string]struct{ body, reason, field string }{
		"unknown field": {`{"product":"products/p1","quantity":1,"bogus":true}`, "INVALID_FIELD", "bogus"},
		"not JSON":      {`{"product":`, "INVALID_JSON", ""},
		"wrong type":    {`{"quantity":"many"}`, "INVALID_FIELD", "quantity"},
	} {
		t.Run(name, func(t *testing.T) {
			r := h.do("POST", "/v1/organizations/contoso/subscriptions:purchase", tt.body, "Authorization", tok, "Accept-Language", "fr")
			e := wantError(t, r, http.StatusBadRequest, tt.reason, domain)
			if e.msg.GetLocale() != "fr" {
				t.Fatalf("localized %v", e.msg)
			}
			if got := e.info.GetMetadata()["field"]; got != tt.field {
				t.Errorf("field %q, want %q", got, tt.field)
			}
		})
	}
	if _, n := h.subscriptions.last(); n != 0 {
		t.Fatalf("a refused body reached the service %d times", n)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/nothing/here", "", "Accept-Language", "zh-CN")
	e := wantError(t, r, http.StatusNotFound, "ROUTE_NOT_FOUND", domain)
	if e.msg.GetLocale() != "zh-CN" || e.info.GetMetadata()["path"] != "/v1/nothing/here" {
		t.Fatalf("info %v, localized %v", e.info, e.msg)
	}
	wantError(t, h.do("PUT", "/v2/organizations", "{}"), http.StatusNotFound, "ROUTE_NOT_FOUND", domain)
	wantError(t, h.do("DELETE", "/v1/products", ""), http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", domain)
	wantError(t, h.do("POST", "/healthz", "{}"), http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", domain)
}

func TestUnimplementedRPC(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/organizations/contoso/billingAccounts/ba1/invoices/inv1", "", "Authorization", "Bearer "+h.token("alice"))
	wantError(t, r, http.StatusNotImplemented, "NOT_IMPLEMENTED", "billing.selfserve")
}

func TestUnreachableServiceIs503(t *testing.T) {
	h := newHarness(t)
	h.billing.stop()
	r := h.do("GET", "/v1/organizations/contoso/billingAccounts/ba1/invoices/inv1:download", "",
		"Authorization", "Bearer "+h.token("alice"), "Accept-Language", "fr")
	e := wantError(t, r, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", domain)
	if e.msg.GetLocale() != "fr" {
		t.Fatalf("localized %v", e.msg)
	}
	if r.header.Get("Content-Disposition") != "" {
		t.Fatal("an error offered as a download")
	}
}

func TestNewRefusesMissingAddress(t *testing.T) {
	if _, err := New(t.Context(), Config{LicensingAddr: "127.0.0.1:1", CommerceAddr: "127.0.0.1:2"}); err == nil {
		t.Fatal("New without a billing address")
	}
}

func TestServeShutsDownAndCloses(t *testing.T) {
	h := newHarness(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.gw.Serve(ctx, lis, time.Second) }()

	resp, err := http.Get("http://" + lis.Addr().String() + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := http.Get("http://" + lis.Addr().String() + "/openapi.json"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	// Serve closed the connections; closing again is harmless.
	if err := h.gw.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
