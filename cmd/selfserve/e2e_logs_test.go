package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEndToEndLogs: with --log-format json every line of the log is a JSON
// object; each call through the edge writes one Info line at the gateway and
// one per service it reaches, with method, code, duration, request id and
// organization; no line holds a token, a card number or a security code.
func TestEndToEndLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := startDev(t, binary(t), t.TempDir(), "--log-level", "info", "--log-format", "json")
	maxTok := r.tokens["contoso/max"]
	const number, code = "4242424242424242", "831"
	a := r.send(t, call{method: "POST", path: "/v1/organizations/contoso/billingAccounts", token: maxTok, body: `{"displayName":"Max","soldTo":{"countryCode":"SE"}}`})
	account, _ := a.body["name"].(string)
	if a.status != 200 {
		t.Fatalf("account: %d %v", a.status, a.body)
	}
	a = r.send(t, call{method: "POST", path: "/v1/" + account + "/paymentMethods", token: maxTok,
		body: fmt.Sprintf(`{"card":{"number":%q,"securityCode":%q,"expMonth":12,"expYear":%d,"holderName":"Max Holm"}}`, number, code, time.Now().Year()+2)})
	if a.status != 200 {
		t.Fatalf("card: %d %v", a.status, a.body)
	}
	cardCall := a.header.Get("Request-Id")
	refused := r.send(t, call{method: "GET", path: "/v1/organizations/contoso/billingAccounts", token: "not-a-token"})
	if refused.status != 401 {
		t.Fatalf("a bad token: %d", refused.status)
	}

	var lines []map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines = lines[:0]
		var haveHTTP, haveRPC bool
		for _, raw := range strings.Split(strings.TrimSpace(r.stderr.String()), "\n") {
			if raw == "" {
				continue
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(raw), &line); err != nil {
				t.Fatalf("a log line is not JSON: %v\n%s", err, raw)
			}
			lines = append(lines, line)
			if line["request_id"] == cardCall {
				haveHTTP = haveHTTP || line["msg"] == "http"
				haveRPC = haveRPC || line["method"] == "/selfserve.billing.v1.BillingAccountService/CreatePaymentMethod"
			}
		}
		if haveHTTP && haveRPC {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no gateway and billing lines for request %s in:\n%s", cardCall, r.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	calls := 0
	for _, line := range lines {
		for k, v := range line {
			s := fmt.Sprint(v)
			if strings.Contains(s, number) || strings.Contains(s, maxTok[strings.LastIndex(maxTok, ".")+1:]) || strings.Contains(s, "not-a-token") || s == code {
				t.Errorf("a log line holds a secret in %s: %v", k, line)
			}
			if lk := strings.ToLower(k); strings.Contains(lk, "token") || strings.Contains(lk, "authorization") || strings.Contains(lk, "security") || lk == "number" {
				t.Errorf("a log line has a key %q: %v", k, line)
			}
		}
		switch line["msg"] {
		case "http", "rpc":
			calls++
			if line["level"] != "INFO" && line["level"] != "ERROR" {
				t.Errorf("a call logged at %v: %v", line["level"], line)
			}
			for _, key := range []string{"method", "duration", "request_id"} {
				if _, ok := line[key]; !ok {
					t.Errorf("a %s line has no %s: %v", line["msg"], key, line)
				}
			}
			if line["request_id"] == cardCall && line["org"] != "contoso" {
				t.Errorf("the card call's line names org %v: %v", line["org"], line)
			}
			if line["msg"] == "rpc" && line["code"] == nil {
				t.Errorf("an rpc line has no code: %v", line)
			}
		}
	}
	if calls < 5 {
		t.Errorf("only %d call lines in the log", calls)
	}
	t.Logf("%d log lines, %d of calls", len(lines), calls)
}
