package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/servetest"
	"github.com/selfserve/selfserve/services/kit/webhook"
)

// hookReceiver is an organization's endpoint: it verifies every delivery's
// signature and records the events in arrival order. Its first request is
// held until release is closed, so that the sender can be killed while the
// delivery is in flight.
type hookReceiver struct {
	t        *testing.T
	secret   string
	mu       sync.Mutex
	arrivals []hookArrival
	inflight chan struct{}
	release  chan struct{}
	first    sync.Once
}

type hookArrival struct{ event, typ, resource, delivery string }

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	secret := h.secret
	h.mu.Unlock()
	if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.SignatureTolerance); err != nil {
		h.t.Errorf("delivery %s: bad signature %q: %v", r.Header.Get(webhook.DeliveryHeader), r.Header.Get(webhook.SignatureHeader), err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var e struct{ Name, Type, Resource string }
	if err := json.Unmarshal(body, &e); err != nil || e.Name != r.Header.Get(webhook.EventHeader) {
		h.t.Errorf("body %s under %s %q: %v", body, webhook.EventHeader, r.Header.Get(webhook.EventHeader), err)
	}
	h.mu.Lock()
	h.arrivals = append(h.arrivals, hookArrival{e.Name, e.Type, e.Resource, r.Header.Get(webhook.DeliveryHeader)})
	h.mu.Unlock()
	held := false
	h.first.Do(func() { held = true })
	if held {
		close(h.inflight)
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
	}
}

func (h *hookReceiver) got() []hookArrival {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookArrival(nil), h.arrivals...)
}

// TestEndToEndWebhooks runs the four components as separate processes, has
// an admin register an endpoint, and shows that a purchase, a quantity
// change and a cancellation arrive signed, in order, once each by event
// after commerce is killed with SIGKILL while the first is in flight; then
// the delivery log, a redelivery and the endpoint's removal.
func TestEndToEndWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	bin := binary(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "signing.key")
	if _, err := auth.LoadOrCreateKey(key); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 5)
	addrs := []string{"--licensing-addr", ports[1], "--commerce-addr", ports[2], "--billing-addr", ports[3]}
	comps := map[string]*component{}
	for _, name := range []string{"licensing", "billing", "commerce", "gateway"} {
		args := append([]string{"--http-addr", ports[0]}, addrs...)
		if name != "gateway" {
			args = append([]string{"--signing-key", key, "--data-dir", filepath.Join(dir, name)}, addrs...)
		}
		if name == "commerce" {
			args = append(args, "--webhooks-allow-private", "--metrics-addr", ports[4])
		}
		comps[name] = &component{name: name, args: args, logs: &servetest.Buffer{}}
		comps[name].start(t, bin)
	}
	t.Cleanup(func() {
		for _, c := range comps {
			c.kill()
		}
	})
	out, err := exec.Command(bin, "token", "--operator", "--signing-key", key, "--data-dir", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	op := strings.TrimSpace(string(out))
	cl := &client{url: "http://" + ports[0]}
	token := func(user string) string {
		code, tok := cl.do("POST", "/v1/organizations/contoso/users/"+user+":issueToken", op, `{}`, "", 20*time.Second)
		if code != 200 {
			t.Fatalf("token of %s: %d %v", user, code, tok)
		}
		return tok["token"].(string)
	}
	maxTok, ada := token("max"), token("ada")
	must := func(want int, method, path, tok, body, key string) map[string]any {
		t.Helper()
		code, out := cl.do(method, path, tok, body, key, 20*time.Second)
		if code != want {
			t.Fatalf("%s %s: %d %v, want %d", method, path, code, out, want)
		}
		return out
	}

	recv := &hookReceiver{t: t, inflight: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	defer func() {
		select {
		case <-recv.release:
		default:
			close(recv.release)
		}
	}()

	// Admins register endpoints; a buyer may not.
	reg := fmt.Sprintf(`{"url":%q,"eventTypes":["SUBSCRIPTION_PURCHASED","QUANTITY_CHANGED","SUBSCRIPTION_CANCELLED"],"description":"ERP"}`, srv.URL)
	denied := must(403, "POST", "/v1/organizations/contoso/webhooks", maxTok, reg, "")
	if r, _ := errorReason(denied); r != "PERMISSION_DENIED" {
		t.Fatalf("a buyer registering: %v", denied)
	}
	bad := must(400, "POST", "/v1/organizations/contoso/webhooks", ada, `{"url":"ftp://example.com/hook"}`, "")
	if r, _ := errorReason(bad); r != "INVALID_FIELD" {
		t.Fatalf("an ftp URL: %v", bad)
	}
	hook := must(200, "POST", "/v1/organizations/contoso/webhooks", ada, reg, "hook-1")
	secret, _ := hook["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || hook["creator"] != "organizations/contoso/users/ada" {
		t.Fatalf("registered: %v", hook)
	}
	if again := must(200, "POST", "/v1/organizations/contoso/webhooks", ada, reg, "hook-1"); again["name"] != hook["name"] || again["secret"] != secret {
		t.Fatalf("a retried registration answered %v, want %v", again, hook)
	}
	name := hook["name"].(string)
	if got := must(200, "GET", "/v1/"+name, ada, "", ""); got["secret"] != "" || got["url"] != srv.URL {
		t.Fatalf("GET shows %v: the secret is shown once", got)
	}
	if l := must(200, "GET", "/v1/organizations/contoso/webhooks", ada, "", ""); len(l["webhooks"].([]any)) != 1 {
		t.Fatalf("list: %v", l)
	}
	recv.mu.Lock()
	recv.secret = secret
	recv.mu.Unlock()

	// A buyer with a card buys, raises and cancels.
	acct := must(200, "POST", "/v1/organizations/contoso/billingAccounts", maxTok, `{"displayName":"Max","soldTo":{"countryCode":"SE"}}`, "hook-account")
	account := acct["name"].(string)
	pm := must(200, "POST", "/v1/"+account+"/paymentMethods", maxTok, cardJSON("4242424242424242", "989"), "hook-card")
	profile := account + "/billingProfiles/default"
	must(200, "PATCH", "/v1/"+profile, maxTok, fmt.Sprintf(`{"paymentMethod":%q}`, pm["name"]), "hook-profile")
	products := must(200, "GET", "/v1/products?pageSize=1000", maxTok, "", "")
	var product string
	for _, p := range products["products"].([]any) {
		m := p.(map[string]any)
		if m["trial"] == nil && m["trialOnly"] != true && product == "" {
			product = m["name"].(string)
		}
	}
	sub := must(200, "POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(product, profile, 2, ""), "hook-buy")
	subName := sub["name"].(string)
	select {
	case <-recv.inflight:
	case <-time.After(20 * time.Second):
		t.Fatalf("the purchase was not delivered within 20 s; commerce log: %s", tail(comps["commerce"].logs.String(), 2000))
	}
	// While the purchase is in flight the next events queue behind it.
	must(200, "POST", "/v1/"+subName+":setQuantity", maxTok, `{"totalLicenses":4}`, "hook-qty")
	must(200, "POST", "/v1/"+subName+":cancel", maxTok, `{"reason":"TOO_EXPENSIVE","feedback":"Testing webhooks."}`, "hook-cancel")
	time.Sleep(1500 * time.Millisecond) // a sender round or more
	if n := len(recv.got()); n != 1 {
		t.Fatalf("%d deliveries arrived while the first was in flight, want 1 (in order per subscription)", n)
	}
	comps["commerce"].kill()
	close(recv.release)
	comps["commerce"].start(t, bin)

	// The held delivery is taken again once its lease runs out.
	want := []string{"SUBSCRIPTION_PURCHASED", "QUANTITY_CHANGED", "SUBSCRIPTION_CANCELLED"}
	deadline := time.Now().Add(60 * time.Second)
	var firsts []hookArrival
	seen := map[string]int{}
	for time.Now().Before(deadline) {
		firsts, seen = firsts[:0], map[string]int{}
		for _, a := range recv.got() {
			if seen[a.event] == 0 {
				firsts = append(firsts, a)
			}
			seen[a.event]++
		}
		if len(firsts) == len(want) && seen[firsts[0].event] >= 2 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(firsts) != len(want) {
		t.Fatalf("events arrived: %+v, want %v once each; commerce log: %s", recv.got(), want, tail(comps["commerce"].logs.String(), 2000))
	}
	for i, a := range firsts {
		if a.typ != want[i] || a.resource != subName {
			t.Fatalf("event %d arrived as %+v, want %s of %s (in order)", i, a, want[i], subName)
		}
	}
	if seen[firsts[0].event] < 2 {
		t.Fatalf("the purchase, in flight at the kill, arrived %d times, want again after the restart", seen[firsts[0].event])
	}
	t.Logf("arrivals: %d for %d events (the purchase %d times: in flight at the SIGKILL, then again)", len(recv.got()), len(firsts), seen[firsts[0].event])

	// The delivery log tells the same.
	var log []any
	for time.Now().Before(deadline) {
		l := must(200, "GET", "/v1/"+name+"/deliveries", ada, "", "")
		log, _ = l["deliveries"].([]any)
		done := len(log) == 3
		for _, d := range log {
			done = done && d.(map[string]any)["state"] == "DELIVERED"
		}
		if done {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	byEvent := map[string]map[string]any{}
	for _, d := range log {
		m := d.(map[string]any)
		byEvent[m["event"].(string)] = m
		if m["state"] != "DELIVERED" || m["lastStatusCode"] != float64(200) {
			t.Fatalf("delivery log: %v", log)
		}
	}
	if d := byEvent[firsts[0].event]; d == nil || d["attempts"].(float64) < 2 {
		t.Fatalf("the purchase's delivery: %v, want 2 attempts or more", d)
	}

	// A manual redelivery sends the same event again.
	cancelDelivery := byEvent[firsts[2].event]["name"].(string)
	before := seen[firsts[2].event]
	re := must(200, "POST", "/v1/"+cancelDelivery+":redeliver", ada, `{}`, "")
	if re["state"] != "PENDING" {
		t.Fatalf("redeliver: %v", re)
	}
	for time.Now().Before(deadline) {
		n := 0
		for _, a := range recv.got() {
			if a.event == firsts[2].event {
				n++
			}
		}
		if n > before {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	n := 0
	for _, a := range recv.got() {
		if a.event == firsts[2].event {
			n++
		}
	}
	if n != before+1 {
		t.Fatalf("the cancellation arrived %d times after a redelivery, want %d", n, before+1)
	}

	// The restarted sender counted what it delivered: the purchase again,
	// the quantity change, the cancellation and its redelivery.
	if n := sum(scrape(t, "http://"+ports[4]+"/metrics"), "selfserve_webhook_attempts_total", "outcome", "delivered"); n < 4 {
		t.Errorf("selfserve_webhook_attempts_total{outcome=\"delivered\"} = %v, want 4 or more", n)
	}

	// Removed, it is gone.
	must(200, "DELETE", "/v1/"+name, ada, "", "")
	must(404, "GET", "/v1/"+name, ada, "", "")
}
