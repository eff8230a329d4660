package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// TestEndToEndLicenses drives a seat pool through the JSON edge: commerce's
// part (creating the pool) is played by an operator over gRPC.
func TestEndToEndLicenses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := startDev(t, binary(t), t.TempDir())
	conn, err := serve.Dial(r.grpc["licensing"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+r.tokens["operator"])
	_, err = licensingv1.NewPoolServiceClient(conn).CreatePool(ctx, &licensingv1.CreatePoolRequest{SubscriptionVersion: 1, Pool: &licensingv1.Pool{
		Subscription: "organizations/contoso/subscriptions/max-office", Product: "products/office", Purchaser: "organizations/contoso/users/max",
		Channel: licensingv1.Pool_SELF_SERVICE, TotalLicenses: 2,
	}})
	if err != nil {
		t.Fatal(err)
	}
	const pool = "/v1/organizations/contoso/licenses/max-office"
	maxTok, ada := r.tokens["contoso/max"], r.tokens["contoso/ada"]

	code, body := r.do(t, call{method: "POST", path: pool + ":assign", token: maxTok,
		body: `{"users":["organizations/contoso/users/max","organizations/contoso/users/nora"]}`, headers: map[string]string{"Idempotency-Key": "a-1"}})
	if code != 200 || body["assignedLicenses"] != float64(2) || body["availableLicenses"] != float64(0) || body["state"] != "ENABLED" {
		t.Fatalf("assign: %d %v", code, body)
	}
	for _, tc := range []struct {
		token, body, why string
		code             int
	}{
		{maxTok, `{"users":["organizations/contoso/users/li"]}`, "NOT_ENOUGH_LICENSES", 400},
		{maxTok, `{"users":["organizations/contoso/users/gus"]}`, "GUEST_USER", 400},
		{maxTok, `{"users":["organizations/fabrikam-cn/users/wang"]}`, "USER_NOT_IN_ORGANIZATION", 400},
		{maxTok, `{"users":[` + strings.TrimSuffix(strings.Repeat(`"organizations/contoso/users/nora",`, 21), ",") + `]}`, "TOO_MANY_USERS", 400},
		{ada, `{"users":["organizations/contoso/users/li"]}`, "ADMIN_READ_ONLY", 403},
		{r.tokens["contoso/nora"], `{"users":["organizations/contoso/users/li"]}`, "RESOURCE_NOT_FOUND", 404},
	} {
		code, body := r.do(t, call{method: "POST", path: pool + ":assign", token: tc.token, body: tc.body})
		if why, _ := errorReason(body); code != tc.code || why != tc.why {
			t.Errorf("%s: %d %v", tc.why, code, body)
		}
	}
	// The admin's read-only view; the user's own licenses.
	code, body = r.do(t, call{method: "GET", path: pool + "/assignments", token: ada})
	if list, _ := body["assignments"].([]any); code != 200 || len(list) != 2 {
		t.Fatalf("assignments: %d %v", code, body)
	}
	code, body = r.do(t, call{method: "GET", path: "/v1/organizations/contoso/users/nora/licenses", token: r.tokens["contoso/nora"]})
	if list, _ := body["assignments"].([]any); code != 200 || len(list) != 1 {
		t.Fatalf("nora's licenses: %d %v", code, body)
	}

	// A license request, filed and denied.
	code, body = r.do(t, call{method: "POST", path: "/v1/organizations/contoso/licenseRequests", token: r.tokens["contoso/nora"],
		body: `{"product":"products/visio","message":"for the floor plans"}`})
	name, _ := body["name"].(string)
	if code != 200 || body["state"] != "PENDING" || name == "" {
		t.Fatalf("license request: %d %v", code, body)
	}
	code, body = r.do(t, call{method: "POST", path: "/v1/" + name + ":deny", token: ada, body: `{"message":"not this quarter"}`})
	if code != 200 || body["state"] != "DENIED" {
		t.Fatalf("deny: %d %v", code, body)
	}

	// The assignment reaches the audit feed in commerce.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body = r.do(t, call{method: "GET", path: "/v1/organizations/contoso/events", token: ada, headers: map[string]string{"Accept-Language": "fr"}})
		events, _ := body["events"].([]any)
		if code == 200 && len(events) > 0 {
			e := events[0].(map[string]any)
			if e["type"] != "LICENSES_ASSIGNED" || e["actor"] != "organizations/contoso/users/max" || e["description"] == "" {
				t.Fatalf("event: %v", e)
			}
			t.Logf("feed: %v", e["description"])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event in the feed: %d %v", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
