package accounts

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/money"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Charge limits and the payment schedule of API.md §4.
const (
	MaxChargeKey   = 200
	MaxLineItems   = 100
	MaxDescription = 500
	// RetryEvery is how often a PAST_DUE invoice is charged again.
	RetryEvery = 3 * 24 * time.Hour
	// UnpaidAfter is how long an invoice may stay unpaid before commerce is
	// told (the subscription then goes DISABLED).
	UnpaidAfter = 30 * 24 * time.Hour
)

// ChargeKey checks an idempotency key: printable, no separators of keys.
func ChargeKey(k string) error {
	if k == "" || len(k) > MaxChargeKey || strings.IndexFunc(k, func(r rune) bool { return r == 0 || !unicode.IsPrint(r) }) >= 0 {
		return errs.Field("key", "key must be 1 to %d printable characters", MaxChargeKey)
	}
	return nil
}

// Lines checks the lines of a charge in currency and returns them with the
// invoice's subtotal. Amounts are minor units; credits are negative.
func Lines(in []*billingv1.LineItem, currency string) ([]*billingv1.LineItem, int64, error) {
	if _, err := money.Lookup(currency); err != nil {
		return nil, 0, errs.Field("currency_code", "currency_code must be an ISO 4217 code")
	}
	if len(in) == 0 || len(in) > MaxLineItems {
		return nil, 0, errs.Field("line_items", "a charge has 1 to %d line items", MaxLineItems)
	}
	out := make([]*billingv1.LineItem, 0, len(in))
	var subtotal money.Amount
	subtotal.Currency = currency
	for i, l := range in {
		field := fmt.Sprintf("line_items[%d]", i)
		if _, ok := billingv1.LineItem_Type_name[int32(l.GetType())]; !ok || l.GetType() == billingv1.LineItem_TYPE_UNSPECIFIED {
			return nil, 0, errs.Field(field+".type", "%s.type is required", field)
		}
		desc, err := text(field+".description", l.GetDescription(), MaxDescription, true)
		if err != nil {
			return nil, 0, err
		}
		if l.GetSubscription() != "" {
			if _, err := names.Parse(field+".subscription", l.GetSubscription(), SubscriptionPattern); err != nil {
				return nil, 0, err
			}
		}
		if l.GetQuantity() < 0 {
			return nil, 0, errs.Field(field+".quantity", "%s.quantity must not be negative", field)
		}
		if l.GetPeriodStart() != nil && l.GetPeriodEnd() != nil && l.GetPeriodEnd().AsTime().Before(l.GetPeriodStart().AsTime()) {
			return nil, 0, errs.Field(field+".period_end", "%s ends before it starts", field)
		}
		if subtotal, err = subtotal.Add(money.Amount{Minor: l.GetAmountMinor(), Currency: currency}); err != nil {
			return nil, 0, errs.Field(field+".amount_minor", "the amounts overflow")
		}
		out = append(out, &billingv1.LineItem{Type: l.GetType(), Description: desc, Subscription: l.GetSubscription(),
			Quantity: l.GetQuantity(), PeriodStart: l.GetPeriodStart(), PeriodEnd: l.GetPeriodEnd(), AmountMinor: l.GetAmountMinor()})
	}
	return out, subtotal.Minor, nil
}

// LineTexts checks a charge's descriptions in every language: none, or one
// per line, keyed by en, fr, sv and zh-CN, each a description as Lines takes
// it.
func LineTexts(in []*billingv1.LocalizedText, lines int) ([]map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) != lines {
		return nil, errs.Field("line_descriptions", "line_descriptions has %d entries for %d line items", len(in), lines)
	}
	out := make([]map[string]string, len(in))
	for i, l := range in {
		field := fmt.Sprintf("line_descriptions[%d]", i)
		out[i] = make(map[string]string, len(l.GetText()))
		for code, s := range l.GetText() {
			if locale.Code(locale.Match(code)) != code {
				return nil, errs.Field(field, "%s: %q is not one of en, fr, sv, zh-CN", field, code)
			}
			s, err := text(field, s, MaxDescription, true)
			if err != nil {
				return nil, err
			}
			out[i][code] = s
		}
	}
	return out, nil
}

// NextRetry is when a charge that failed at now is tried again, or zero when
// the invoice issued at issued has been unpaid too long: the last try is on
// day 30.
func NextRetry(issued, now time.Time) time.Time {
	deadline := issued.Add(UnpaidAfter)
	if !now.Before(deadline) {
		return time.Time{}
	}
	next := now.Add(RetryEvery)
	if next.After(deadline) {
		return deadline
	}
	return next
}
