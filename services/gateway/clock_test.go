package gateway

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
)

func (h *harness) clocks() []time.Time {
	return []time.Time{h.licensing.clock.Now(), h.billing.clock.Now(), h.commerce.clock.Now()}
}

func clockOf(t *testing.T, r response) *operatorv1.Clock {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var c operatorv1.Clock
	if err := protojson.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return &c
}

func TestClockAdvanceMovesEveryService(t *testing.T) {
	h := newHarness(t)
	op := "Bearer " + h.operator()

	c := clockOf(t, h.do("POST", "/v1/clock:advance", `{"duration":"86400s"}`, "Authorization", op))
	// The latest clock (billing, one hour ahead) plus a day.
	want := start.Add(time.Hour + 24*time.Hour)
	if !c.GetNow().AsTime().Equal(want) || c.GetMode() != operatorv1.Clock_MANUAL {
		t.Fatalf("clock %v, want %v MANUAL", c, want)
	}
	if !slices.Equal(c.GetServices(), []string{"licensing", "billing", "commerce"}) {
		t.Fatalf("services %v", c.GetServices())
	}
	for i, now := range h.clocks() {
		if !now.Equal(want) {
			t.Fatalf("clock %d at %v, want %v", i, now, want)
		}
	}

	// A retried "until" moves nothing twice.
	until := `{"until":"` + want.Format(time.RFC3339) + `"}`
	c = clockOf(t, h.do("POST", "/v1/clock:advance", until, "Authorization", op))
	if !c.GetNow().AsTime().Equal(want) {
		t.Fatalf("replayed until moved to %v", c.GetNow().AsTime())
	}

	got := clockOf(t, h.do("GET", "/v1/clock", "", "Authorization", op))
	if !got.GetNow().AsTime().Equal(want) || !slices.Equal(got.GetServices(), []string{"commerce"}) {
		t.Fatalf("GET /v1/clock %v", got)
	}
}

func TestClockAdvanceRefusals(t *testing.T) {
	h := newHarness(t)
	before := h.clocks()

	r := h.do("POST", "/v1/clock:advance", `{"duration":"3600s"}`, "Authorization", "Bearer "+h.token("alice", "GLOBAL_ADMIN"))
	wantError(t, r, http.StatusForbidden, "PERMISSION_DENIED", "licensing.selfserve")
	wantError(t, h.do("GET", "/v1/clock", "", "Authorization", "Bearer "+h.token("alice")), http.StatusForbidden, "PERMISSION_DENIED", "commerce.selfserve")
	wantError(t, h.do("POST", "/v1/clock:advance", `{"duration":"3600s"}`), http.StatusUnauthorized, "TOKEN_MISSING", "licensing.selfserve")

	op := "Bearer " + h.operator()
	for name, body := range map[string]string{
		"empty":        `{}`,
		"negative":     `{"duration":"-60s"}`,
		"both":         `{"duration":"60s","until":"2031-01-01T00:00:00Z"}`,
		"too far":      `{"until":"2099-01-01T00:00:00Z"}`,
		"unknown":      `{"hours":3}`,
		"not duration": `{"duration":"soon"}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := h.do("POST", "/v1/clock:advance", body, "Authorization", op, "Accept-Language", "sv")
			e := wantError(t, r, http.StatusBadRequest, "INVALID_FIELD", domain)
			if e.msg.GetLocale() != "sv" {
				t.Fatalf("localized %v", e.msg)
			}
		})
	}
	if !slices.EqualFunc(h.clocks(), before, time.Time.Equal) {
		t.Fatalf("a refused advance moved the clocks: %v", h.clocks())
	}
}
