package gateway

import (
	"context"
	"sync"

	"google.golang.org/grpc/metadata"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

// fakeDirectory knows one organization, contoso.
type fakeDirectory struct {
	licensingv1.UnimplementedDirectoryServiceServer
}

func (fakeDirectory) GetOrganization(_ context.Context, req *licensingv1.GetOrganizationRequest) (*licensingv1.Organization, error) {
	if req.GetName() != "organizations/contoso" {
		return nil, errs.NotFound(req.GetName())
	}
	return &licensingv1.Organization{Name: req.GetName(), DisplayName: "Contoso", Cloud: licensingv1.Organization_GLOBAL}, nil
}

// fakeSubscriptions records the metadata of the last purchase.
type fakeSubscriptions struct {
	commercev1.UnimplementedSubscriptionServiceServer
	mu   sync.Mutex
	md   metadata.MD
	reqs int
}

func (f *fakeSubscriptions) PurchaseSubscription(ctx context.Context, req *commercev1.PurchaseSubscriptionRequest) (*commercev1.Subscription, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.md, f.reqs = md.Copy(), f.reqs+1
	f.mu.Unlock()
	return &commercev1.Subscription{
		Name:      req.GetParent() + "/subscriptions/s1",
		Product:   req.GetProduct(),
		State:     commercev1.Subscription_ACTIVE,
		Quantity:  req.GetQuantity(),
		UnitPrice: &commercev1.Money{CurrencyCode: "USD", AmountMinor: 1250},
	}, nil
}

func (f *fakeSubscriptions) last() (metadata.MD, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.md, f.reqs
}

// pdf is the fake invoice document: bytes that are not valid UTF-8, so a JSON
// detour would show.
var pdf = []byte("%PDF-1.7\n\x00\xff\xfe binary\n%%EOF\n")

// fakeInvoices serves one document and leaves the rest unimplemented.
type fakeInvoices struct {
	billingv1.UnimplementedInvoiceServiceServer
}

func (fakeInvoices) DownloadInvoice(_ context.Context, req *billingv1.DownloadInvoiceRequest) (*billingv1.InvoiceDocument, error) {
	if req.GetName() != "organizations/contoso/billingAccounts/ba1/invoices/inv1" {
		return nil, errs.NotFound(req.GetName())
	}
	return &billingv1.InvoiceDocument{ContentType: "application/pdf", Data: pdf, FileName: "INV-0001.pdf"}, nil
}
