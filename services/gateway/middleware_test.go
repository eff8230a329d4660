package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/selfserve/selfserve/services/kit/serve"
	"github.com/selfserve/selfserve/services/kit/servetest"
)

func TestBodyOverLimitIs413(t *testing.T) {
	h := newHarness(t)
	big := `{"product":"` + strings.Repeat("p", serve.MaxRequestBytes) + `"}`
	url := h.url + "/v1/organizations/contoso/subscriptions:purchase"
	for name, body := range map[string]io.Reader{
		"declared length": strings.NewReader(big),
		// A reader of unknown length goes out chunked, so only reading tells.
		"chunked": io.MultiReader(strings.NewReader(big)),
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest("POST", url, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+h.token("alice"))
			req.Header.Set("Accept-Language", "fr")
			e := wantError(t, h.send(req), http.StatusRequestEntityTooLarge, "RESOURCE_EXHAUSTED", domain)
			if e.msg.GetLocale() != "fr" || e.info.GetMetadata()["limit"] != "1048576" {
				t.Fatalf("info %v, localized %v", e.info, e.msg)
			}
		})
	}
	if _, n := h.subscriptions.last(); n != 0 {
		t.Fatalf("an oversized body reached the service %d times", n)
	}
}

func TestOneLogLinePerRequestWithoutSecrets(t *testing.T) {
	h := newHarness(t)
	var out servetest.Buffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := New(context.Background(), Config{LicensingAddr: h.licensing.addr, CommerceAddr: h.commerce.addr, BillingAddr: h.billing.addr, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()

	tok := h.token("alice")
	req, _ := http.NewRequest("POST", srv.URL+"/v1/organizations/contoso/subscriptions:purchase?secret=q",
		strings.NewReader(`{"product":"products/p1","billingProfile":"card-4111"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	got := out.String()
	if strings.Count(got, "\n") != 1 {
		t.Fatalf("want one line, got %q", got)
	}
	for _, want := range []string{"level=INFO", "org=contoso", "request_id=req_", "method=POST", "path=/v1/organizations/contoso/subscriptions:purchase", "status=200", "duration="} {
		if !strings.Contains(got, want) {
			t.Errorf("log line lacks %s: %s", want, got)
		}
	}
	for _, secret := range []string{tok, "card-4111", "secret=q"} {
		if strings.Contains(got, secret) {
			t.Errorf("log line holds %q: %s", secret, got)
		}
	}
}

func TestPathOrganization(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/organizations/contoso/subscriptions":        "contoso",
		"/v1/organizations/contoso":                      "contoso",
		"/v1/organizations/contoso/users/ada:issueToken": "contoso",
		"/v1/organizations/fabrikam-cn:setSomething":     "fabrikam-cn",
		"/v1/products":      "",
		"/v1/organizations": "",
		"/healthz":          "",
	} {
		if got := pathOrganization(path); got != want {
			t.Errorf("pathOrganization(%q) = %q, want %q", path, got, want)
		}
	}
}
