package commerce_test

import (
	"testing"

	"github.com/selfserve/selfserve/services/kit/kv"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/store"
)

func TestPaymentEventsAreQueuedOnce(t *testing.T) {
	h := serve(t, t.TempDir(), newSigner(t))
	unpaid := &commercev1.PaymentEvent{Name: "billing-1", Type: commercev1.PaymentEvent_INVOICE_UNPAID, Invoice: "organizations/o/billingAccounts/ba-1/invoices/inv-00000001",
		Subscription: "organizations/o/subscriptions/s1", Key: "renew-1", CreateTime: timestamppb.Now()}
	req := &commercev1.RecordPaymentEventsRequest{Events: []*commercev1.PaymentEvent{unpaid}}
	if r, err := h.pay.RecordPaymentEvents(h.service(t), req); err != nil || r.Recorded != 1 {
		t.Fatalf("record: %v %v", r, err)
	}
	if r, err := h.pay.RecordPaymentEvents(h.service(t), req); err != nil || r.Recorded != 0 {
		t.Fatalf("a redelivered event was recorded again: %v %v", r, err)
	}
	_, err := h.pay.RecordPaymentEvents(h.user(t, "o", "max"), req)
	wantErr(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	bad := &commercev1.RecordPaymentEventsRequest{Events: []*commercev1.PaymentEvent{
		{Name: "billing-2", Type: commercev1.PaymentEvent_INVOICE_PAID, Subscription: "organizations/o/subscriptions/s1", CreateTime: timestamppb.Now()},
		{Name: "billing-3", Type: commercev1.PaymentEvent_INVOICE_PAID, Subscription: "nope", CreateTime: timestamppb.Now()},
	}}
	_, err = h.pay.RecordPaymentEvents(h.service(t), bad)
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "events[1].subscription")
	h.comp.Store.DB.View(func(tx kv.Tx) error {
		keys, events, err := store.PendingPaymentEvents(tx, 10)
		if err != nil || len(keys) != 1 || events[0].GetName() != "billing-1" {
			t.Fatalf("inbox: %v %v", events, err)
		}
		return nil
	})
}
