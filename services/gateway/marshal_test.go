package gateway

import (
	"bytes"
	"fmt"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/gateway/jsonenc"
)

// TestEdgeMarshalerIsJsonenc: the marshaler the mux answers with writes a
// page as jsonenc does, and with jsonenc's few allocations: protojson makes
// about 40 a subscription (1,981 for this page), jsonenc about one.
func TestEdgeMarshalerIsJsonenc(t *testing.T) {
	page := &commercev1.ListSubscriptionsResponse{NextPageToken: "next"}
	for i := range 50 {
		page.Subscriptions = append(page.Subscriptions, &commercev1.Subscription{
			Name: fmt.Sprintf("organizations/contoso/subscriptions/s-%03d", i), Product: "products/p1", Quantity: 5,
			State: commercev1.Subscription_ACTIVE, StartTime: timestamppb.Now(), EndTime: timestamppb.Now(),
			UnitPrice:     &commercev1.Money{CurrencyCode: "SEK", AmountMinor: 1250},
			AssignedUsers: []*commercev1.Subscription_AssignedUser{{User: "organizations/contoso/users/max", DisplayName: "Max"}},
		})
	}
	m := documentMarshaler{jsonMarshaler()}
	got, err := m.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	want, err := jsonenc.Marshal(page)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the edge wrote %d bytes (%.120s…), jsonenc %d (%.120s…), %v", len(got), got, len(want), want, err)
	}
	allocs := testing.AllocsPerRun(20, func() { m.Marshal(page) })
	if allocs > 200 {
		t.Fatalf("%.0f allocations for a page of 50: not jsonenc's", allocs)
	}
	t.Logf("%.0f allocations a page", allocs)
}
