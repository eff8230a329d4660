package server

import (
	"context"

	"google.golang.org/grpc/codes"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/subscriptions"
	"github.com/selfserve/selfserve/services/commerce/terms"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/metrics"
	"github.com/selfserve/selfserve/services/kit/page"
)

// Subscriptions implements SubscriptionService over the subscriptions
// package, which checks, records and carries out every change.
type Subscriptions struct {
	commercev1.UnimplementedSubscriptionServiceServer
	Service *subscriptions.Service
}

// PurchaseSubscription buys a subscription.
func (s *Subscriptions) PurchaseSubscription(ctx context.Context, req *commercev1.PurchaseSubscriptionRequest) (*commercev1.Subscription, error) {
	sub, err := s.Service.Purchase(ctx, req)
	metrics.Purchases.WithLabelValues("purchase", purchaseOutcome(err)).Inc()
	return sub, err
}

// StartTrial starts a product's trial.
func (s *Subscriptions) StartTrial(ctx context.Context, req *commercev1.StartTrialRequest) (*commercev1.Subscription, error) {
	sub, err := s.Service.StartTrial(ctx, req)
	metrics.Purchases.WithLabelValues("trial", purchaseOutcome(err)).Inc()
	return sub, err
}

// purchaseOutcome names how a purchase or trial ended, for metrics: ok,
// declined (the payment), refused (the request or the caller) or failed (a
// fault of the system: a service down, a timeout).
func purchaseOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errs.ReasonOf(err) == errs.PaymentDeclined.Name:
		return "declined"
	}
	switch errs.CodeOf(err) {
	case codes.Internal, codes.Unknown, codes.Unavailable, codes.DeadlineExceeded, codes.DataLoss, codes.Aborted:
		return "failed"
	}
	return "refused"
}

// ListSubscriptions lists subscriptions.
func (s *Subscriptions) ListSubscriptions(ctx context.Context, req *commercev1.ListSubscriptionsRequest) (*commercev1.ListSubscriptionsResponse, error) {
	return s.Service.List(ctx, req)
}

// GetSubscription reads a subscription.
func (s *Subscriptions) GetSubscription(ctx context.Context, req *commercev1.GetSubscriptionRequest) (*commercev1.Subscription, error) {
	return s.Service.Get(ctx, req)
}

// SetQuantity sets the total number of licenses.
func (s *Subscriptions) SetQuantity(ctx context.Context, req *commercev1.SetQuantityRequest) (*commercev1.Subscription, error) {
	return s.Service.SetQuantity(ctx, req)
}

// CancelSubscription cancels with a reason and feedback.
func (s *Subscriptions) CancelSubscription(ctx context.Context, req *commercev1.CancelSubscriptionRequest) (*commercev1.Subscription, error) {
	return s.Service.Cancel(ctx, req)
}

// SetAutoRenew turns auto-renew on or off.
func (s *Subscriptions) SetAutoRenew(ctx context.Context, req *commercev1.SetAutoRenewRequest) (*commercev1.Subscription, error) {
	return s.Service.SetAutoRenew(ctx, req)
}

// ReactivateSubscription starts a new paid term.
func (s *Subscriptions) ReactivateSubscription(ctx context.Context, req *commercev1.ReactivateSubscriptionRequest) (*commercev1.Subscription, error) {
	return s.Service.Reactivate(ctx, req)
}

// ExtendTrial extends a trial once.
func (s *Subscriptions) ExtendTrial(ctx context.Context, req *commercev1.ExtendTrialRequest) (*commercev1.Subscription, error) {
	return s.Service.ExtendTrial(ctx, req)
}

// ConvertTrial converts a trial to paid.
func (s *Subscriptions) ConvertTrial(ctx context.Context, req *commercev1.ConvertTrialRequest) (*commercev1.Subscription, error) {
	return s.Service.ConvertTrial(ctx, req)
}

// TakeOverSubscription takes a self-service subscription over.
func (s *Subscriptions) TakeOverSubscription(ctx context.Context, req *commercev1.TakeOverSubscriptionRequest) (*commercev1.Subscription, error) {
	return s.Service.TakeOver(ctx, req)
}

// ListOrders lists the order history.
func (s *Subscriptions) ListOrders(ctx context.Context, req *commercev1.ListOrdersRequest) (*commercev1.ListOrdersResponse, error) {
	return s.Service.ListOrders(ctx, req)
}

// ListCancellationReasons lists the reasons to cancel, labelled in the
// caller's language: one page holds them all.
func (s *Subscriptions) ListCancellationReasons(ctx context.Context, req *commercev1.ListCancellationReasonsRequest) (*commercev1.ListCancellationReasonsResponse, error) {
	if _, err := page.Size(req.GetPageSize()); err != nil {
		return nil, err
	}
	if req.GetPageToken() != "" {
		return nil, errs.New(errs.InvalidPageToken, "there is one page of cancellation reasons").With("field", "page_token")
	}
	return &commercev1.ListCancellationReasonsResponse{CancellationReasons: terms.Reasons(locale.FromContext(ctx))}, nil
}
