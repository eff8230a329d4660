package commerce_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/auth"
)

func TestWebhookRegistrationRules(t *testing.T) {
	h := serve(t, t.TempDir(), newSigner(t))
	wh := h.hooks
	admin := h.user(t, "contoso", "ada", auth.GlobalAdmin)
	billing := h.user(t, "contoso", "bruno", auth.BillingAdmin)
	buyer := h.user(t, "contoso", "max")
	stranger := h.user(t, "fabrikam", "wang", auth.GlobalAdmin)
	operator := h.token(t, auth.Claims{Subject: "ops", Roles: []string{auth.Operator}})
	create := func(url string, types ...commercev1.Event_Type) *commercev1.CreateWebhookRequest {
		return &commercev1.CreateWebhookRequest{Parent: "organizations/contoso", Webhook: &commercev1.Webhook{Url: url, EventTypes: types}}
	}

	// Without --webhooks-allow-private: https on the public internet only.
	for _, url := range []string{"http://127.0.0.1:8080/hook", "https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://169.254.169.254/latest", "https://[::1]/hook", "https://localhost/hook", "http://example.com/hook", "https://user:pw@example.com/hook"} {
		_, err := wh.CreateWebhook(admin, create(url))
		wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "webhook.url")
	}
	_, err := wh.CreateWebhook(admin, create(""))
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "webhook.url")
	_, err = wh.CreateWebhook(admin, create("https://93.184.215.14/hook", commercev1.Event_TYPE_UNSPECIFIED))
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "webhook.event_types")
	_, err = wh.CreateWebhook(admin, &commercev1.CreateWebhookRequest{Parent: "organizations/contoso", Webhook: &commercev1.Webhook{Url: "https://93.184.215.14/hook", Description: strings.Repeat("é", 201)}})
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "webhook.description")
	_, err = wh.CreateWebhook(buyer, create("https://93.184.215.14/hook"))
	wantErr(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
	_, err = wh.CreateWebhook(stranger, create("https://93.184.215.14/hook"))
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")

	// An address literal needs no resolver; types are kept once each.
	w, err := wh.CreateWebhook(billing, create("https://93.184.215.14/hook", commercev1.Event_SUBSCRIPTION_CANCELLED, commercev1.Event_SUBSCRIPTION_CANCELLED))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.GetSecret(), "whsec_") || len(w.GetEventTypes()) != 1 || w.GetCreator() != "organizations/contoso/users/bruno" {
		t.Fatalf("created %v", w)
	}
	got, err := wh.GetWebhook(operator, &commercev1.GetWebhookRequest{Name: w.GetName()})
	if err != nil || got.GetSecret() != "" || got.GetUrl() != w.GetUrl() {
		t.Fatalf("an operator reads %v, %v: without the secret", got, err)
	}
	_, err = wh.GetWebhook(stranger, &commercev1.GetWebhookRequest{Name: w.GetName()})
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = wh.DeleteWebhook(operator, &commercev1.DeleteWebhookRequest{Name: w.GetName()})
	wantErr(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")

	// At most MaxWebhooks endpoints.
	for i := 1; i < store.MaxWebhooks; i++ {
		if _, err := wh.CreateWebhook(admin, create("https://93.184.215.14/hook")); err != nil {
			t.Fatal(err)
		}
	}
	_, err = wh.CreateWebhook(admin, create("https://93.184.215.14/hook"))
	wantErr(t, err, codes.ResourceExhausted, "RESOURCE_EXHAUSTED", "")
	l, err := wh.ListWebhooks(admin, &commercev1.ListWebhooksRequest{Parent: "organizations/contoso", PageSize: 4})
	if err != nil || len(l.GetWebhooks()) != 4 || l.GetNextPageToken() == "" || l.GetWebhooks()[0].GetName() != w.GetName() || l.GetWebhooks()[0].GetSecret() != "" {
		t.Fatalf("first page: %v, %v (oldest first, no secrets)", l, err)
	}

	if _, err := wh.DeleteWebhook(admin, &commercev1.DeleteWebhookRequest{Name: w.GetName()}); err != nil {
		t.Fatal(err)
	}
	_, err = wh.GetWebhook(admin, &commercev1.GetWebhookRequest{Name: w.GetName()})
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = wh.ListWebhookDeliveries(admin, &commercev1.ListWebhookDeliveriesRequest{Parent: w.GetName()})
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = wh.RedeliverWebhookDelivery(admin, &commercev1.RedeliverWebhookDeliveryRequest{Name: w.GetName() + "/deliveries/d1"})
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
}
