package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func healthOf(t *testing.T, r response) health {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	var h health
	if err := json.Unmarshal(r.body, &h); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return h
}

func TestHealthz(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/healthz", "")
	got := healthOf(t, r)
	if r.status != http.StatusOK || got.Status != "SERVING" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	for _, name := range []string{"licensing", "commerce", "billing"} {
		if got.Services[name] != "SERVING" {
			t.Fatalf("%s: %s", name, r.body)
		}
	}

	h.commerce.stop()
	r = h.do("GET", "/healthz", "")
	got = healthOf(t, r)
	if r.status != http.StatusServiceUnavailable || got.Status != "NOT_SERVING" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got.Services["commerce"] == "SERVING" || got.Services["licensing"] != "SERVING" || got.Services["billing"] != "SERVING" {
		t.Fatalf("services %v", got.Services)
	}
}

func TestOpenAPI(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/openapi.json", "")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", r.status, r.header.Get("Content-Type"))
	}
	if !json.Valid(r.body) || !strings.Contains(string(r.body), `"/v1/organizations"`) {
		t.Fatalf("not the OpenAPI document: %.200s", r.body)
	}
}
