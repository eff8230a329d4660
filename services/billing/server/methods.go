package server

import (
	"context"
	"errors"

	"github.com/selfserve/selfserve/services/kit/kv"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/billing/accounts"
	"github.com/selfserve/selfserve/services/billing/cards"
	"github.com/selfserve/selfserve/services/billing/processor"
	"github.com/selfserve/selfserve/services/billing/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/page"
)

// checkedMethod is a new payment method, checked: what the processor needs
// once, and what is kept.
type checkedMethod struct {
	kind   processor.Kind
	method processor.Method
	stored *billingv1.PaymentMethod
	meta   map[string]string
}

// checkMethod validates a new payment method for an organization of cloud.
// Its errors never hold a card number or security code.
func (s *Accounts) checkMethod(in *billingv1.PaymentMethod, cloudOK func(kind string) error) (*checkedMethod, error) {
	now := s.Clock.Now()
	switch d := in.GetDetails().(type) {
	case *billingv1.PaymentMethod_Card:
		if err := cloudOK(cards.MethodCard); err != nil {
			return nil, err
		}
		c, err := cards.ValidateNew(d.Card, now)
		if err != nil {
			return nil, err
		}
		stored := cards.Stored(c)
		return &checkedMethod{
			kind:   processor.KindCard,
			method: processor.Method{Kind: processor.KindCard, Number: c.Number, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, SecurityCode: d.Card.GetSecurityCode()},
			stored: &billingv1.PaymentMethod{Details: &billingv1.PaymentMethod_Card{Card: stored}},
			meta:   map[string]string{"brand": stored.GetBrand().String(), "last4": stored.GetLast4()},
		}, nil
	case *billingv1.PaymentMethod_Alipay:
		if err := cloudOK(cards.MethodAlipay); err != nil {
			return nil, err
		}
		a, err := cards.ValidateAlipay(d.Alipay)
		if err != nil {
			return nil, err
		}
		stored := cards.StoredAlipay(a)
		return &checkedMethod{
			kind:   processor.KindAlipay,
			method: processor.Method{Kind: processor.KindAlipay, Login: a.Login},
			stored: &billingv1.PaymentMethod{Details: &billingv1.PaymentMethod_Alipay{Alipay: stored}},
			meta:   map[string]string{"brand": "ALIPAY", "last4": stored.GetMaskedLoginId()},
		}, nil
	case *billingv1.PaymentMethod_UnionPay:
		if err := cloudOK(cards.MethodUnionPay); err != nil {
			return nil, err
		}
		u, err := cards.ValidateUnionPay(d.UnionPay)
		if err != nil {
			return nil, err
		}
		stored := cards.StoredUnionPay(u)
		return &checkedMethod{
			kind:   processor.KindUnionPay,
			method: processor.Method{Kind: processor.KindUnionPay, Number: u.Number},
			stored: &billingv1.PaymentMethod{Details: &billingv1.PaymentMethod_UnionPay{UnionPay: stored}},
			meta:   map[string]string{"brand": "UNIONPAY", "last4": stored.GetLast4()},
		}, nil
	case *billingv1.PaymentMethod_Invoice:
		if err := cloudOK(cards.MethodInvoice); err != nil {
			return nil, err
		}
		p, err := cards.ValidateInvoice(d.Invoice)
		if err != nil {
			return nil, err
		}
		return &checkedMethod{
			kind:   processor.KindInvoice,
			method: processor.Method{Kind: processor.KindInvoice, Company: p.GetCompanyName(), TaxID: p.GetTaxId()},
			stored: &billingv1.PaymentMethod{Details: &billingv1.PaymentMethod_Invoice{Invoice: p}},
			meta:   methodMeta(&billingv1.PaymentMethod{Details: &billingv1.PaymentMethod_Invoice{Invoice: p}}),
		}, nil
	}
	return nil, errs.Field("payment_method", "payment_method needs one of card, alipay, union_pay or invoice")
}

// declined maps a processor's refusal to PAYMENT_DECLINED.
func declined(err error) error {
	if errors.Is(err, processor.ErrDeclined) {
		return errs.New(errs.PaymentDeclined, "the payment method was declined").With("decline_code", processor.DeclineCode(err))
	}
	return err
}

// CreatePaymentMethod adds a payment method to an account. The processor
// keeps the card; billing keeps its token, brand, last 4 digits, expiry,
// holder and address, and never the number or the security code.
func (s *Accounts) CreatePaymentMethod(ctx context.Context, req *billingv1.CreatePaymentMethodRequest) (*billingv1.PaymentMethod, error) {
	var org, acct string
	err := names.ParseInto("parent", req.GetParent(), accounts.AccountPattern, &org, &acct)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	key := idem.NewKey("CreatePaymentMethod", principal(caller), rid)
	fingerprint := idem.KeyedFingerprint(s.Secret, req)
	resp := &billingv1.PaymentMethod{}
	var cloudOK func(string) error
	replayed := false
	err = s.Store.DB.View(func(tx kv.Tx) error {
		a, cloud, err := account(tx, caller, org, acct, req.GetParent())
		if err != nil {
			return err
		}
		if err := accounts.MayChange(caller, a); err != nil {
			return err
		}
		cloudOK = func(kind string) error { return cards.AllowedIn(cloud, kind) }
		replayed, err = idem.LookupFingerprint(tx, key, fingerprint, resp)
		return err
	})
	if err != nil {
		return nil, err
	}
	if replayed {
		idem.MarkReplayed(ctx)
		return resp, nil
	}
	m, err := s.checkMethod(req.GetPaymentMethod(), cloudOK)
	if err != nil {
		return nil, err
	}
	// The processor registers the method outside any transaction: a slow
	// processor never holds the store.
	token, err := s.Processor.Tokenize(ctx, m.method)
	if err != nil {
		return nil, declined(err)
	}
	now := s.Clock.Now()
	_, err = idem.UpdateFingerprint(ctx, s.Store.DB, key, now, fingerprint, resp, func(tx kv.Tx) error {
		if err := store.InsertPaymentMethod(tx, org, acct, "pm-"+randomID(), m.stored, string(token), now); err != nil {
			return err
		}
		if err := event(tx, org, commercev1.Event_PAYMENT_METHOD_ADDED, caller, m.stored.GetName(), m.meta, now); err != nil {
			return err
		}
		proto.Merge(resp, m.stored)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.committed()
	return resp, nil
}

// methodOf reads a payment method of an account the caller may see.
func methodOf(tx kv.Tx, caller *auth.Identity, name string) (*billingv1.BillingAccount, *billingv1.PaymentMethod, methodRef, error) {
	var r methodRef
	if err := names.ParseInto("name", name, accounts.PaymentMethodPattern, &r.org, &r.account, &r.id); err != nil {
		return nil, nil, r, err
	}
	a, err := details(tx, caller, r.org, r.account, name)
	if err != nil {
		return nil, nil, r, err
	}
	m, err := store.GetPaymentMethod(tx, r.org, r.account, r.id)
	return a, m, r, err
}

// methodRef is a payment method's name parsed: its organization, account
// and id.
type methodRef struct{ org, account, id string }

// GetPaymentMethod reads a payment method as shown: never a full number.
func (s *Accounts) GetPaymentMethod(ctx context.Context, req *billingv1.GetPaymentMethodRequest) (*billingv1.PaymentMethod, error) {
	var out *billingv1.PaymentMethod
	err := s.Store.DB.View(func(tx kv.Tx) (err error) {
		_, out, _, err = methodOf(tx, auth.FromContext(ctx), req.GetName())
		return err
	})
	return out, err
}

// ListPaymentMethods lists the payment methods of an account.
func (s *Accounts) ListPaymentMethods(ctx context.Context, req *billingv1.ListPaymentMethodsRequest) (*billingv1.ListPaymentMethodsResponse, error) {
	var org, acct string
	err := names.ParseInto("parent", req.GetParent(), accounts.AccountPattern, &org, &acct)
	if err != nil {
		return nil, err
	}
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListPaymentMethods", req.GetParent())
	if err != nil {
		return nil, err
	}
	resp := &billingv1.ListPaymentMethodsResponse{}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		if _, err := details(tx, auth.FromContext(ctx), org, acct, req.GetParent()); err != nil {
			return err
		}
		var next []byte
		var err error
		resp.PaymentMethods, next, err = store.ListPaymentMethods(tx, org, acct, pg.After, pg.Size)
		resp.NextPageToken = pg.Next(next)
		return err
	})
	return resp, err
}

// UpdatePaymentMethod edits a card's expiry, holder name and address. The
// security code is required (and checked, never kept); the number cannot
// change: a new card is a new payment method.
func (s *Accounts) UpdatePaymentMethod(ctx context.Context, req *billingv1.UpdatePaymentMethodRequest) (*billingv1.PaymentMethod, error) {
	in := req.GetPaymentMethod()
	if _, err := names.Parse("payment_method.name", in.GetName(), accounts.PaymentMethodPattern); err != nil {
		return nil, err
	}
	// A mask names the card's fields to change (card, card.exp_month, ...);
	// without one, the fields the request populates do.
	var paths []string
	if mask := req.GetUpdateMask(); mask != nil {
		var err error
		if paths, err = accounts.PaymentMethodMask.Paths(mask, in); err != nil {
			return nil, err
		}
	}
	unchanged := req.GetUpdateMask() != nil && len(paths) == 0
	caller := auth.FromContext(ctx)
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	resp := &billingv1.PaymentMethod{}
	_, err = idem.UpdateFingerprint(ctx, s.Store.DB, idem.NewKey("UpdatePaymentMethod", principal(caller), rid), now, idem.KeyedFingerprint(s.Secret, req), resp, func(tx kv.Tx) error {
		a, m, ref, err := methodOf(tx, caller, in.GetName())
		if err != nil {
			return err
		}
		if err := accounts.MayChange(caller, a); err != nil {
			return err
		}
		if unchanged { // an empty mask, or only ignored paths: nothing to check or change
			proto.Merge(resp, m)
			return nil
		}
		stored := m.GetCard()
		if stored == nil {
			return errs.Field("payment_method.card", "only cards can be edited; add a new payment method instead")
		}
		edit := in.GetCard()
		if edit == nil {
			return errs.Field("payment_method.card", "payment_method.card is required")
		}
		if paths != nil {
			edit = maskedCardEdit(edit, stored, paths)
		}
		card, err := cards.ValidateEdit(stored, edit, now)
		if err != nil {
			return err
		}
		m.Details = &billingv1.PaymentMethod_Card{Card: card}
		if err := store.PutPaymentMethod(tx, ref.org, ref.account, ref.id, m, now); err != nil {
			return err
		}
		meta := map[string]string{"brand": card.GetBrand().String(), "last4": card.GetLast4()}
		if err := event(tx, ref.org, commercev1.Event_PAYMENT_METHOD_UPDATED, caller, m.GetName(), meta, now); err != nil {
			return err
		}
		proto.Merge(resp, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.committed()
	return resp, nil
}

// maskedCardEdit keeps the stored value of every editable field the mask
// does not name; the security code always comes from the request.
func maskedCardEdit(edit, stored *billingv1.Card, paths []string) *billingv1.Card {
	named := map[string]bool{}
	for _, p := range paths {
		named[p] = true
	}
	out := &billingv1.Card{Number: edit.Number, SecurityCode: edit.SecurityCode,
		ExpMonth: stored.GetExpMonth(), ExpYear: stored.GetExpYear(), HolderName: stored.GetHolderName(), Address: stored.GetAddress()}
	if named["card"] || named["card.exp_month"] {
		out.ExpMonth = edit.GetExpMonth()
	}
	if named["card"] || named["card.exp_year"] {
		out.ExpYear = edit.GetExpYear()
	}
	if named["card"] || named["card.holder_name"] {
		out.HolderName = edit.GetHolderName()
	}
	if named["card"] || named["card.address"] || hasPrefix(paths, "card.address.") {
		out.Address = edit.GetAddress()
	}
	return out
}

func hasPrefix(paths []string, prefix string) bool {
	for _, p := range paths {
		if len(p) > len(prefix) && p[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// DeletePaymentMethod removes a payment method no billing profile uses (a
// subscription is charged through its profile).
func (s *Accounts) DeletePaymentMethod(ctx context.Context, req *billingv1.DeletePaymentMethodRequest) (*emptypb.Empty, error) {
	caller := auth.FromContext(ctx)
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	resp := &emptypb.Empty{}
	_, err = idem.Update(ctx, s.Store.DB, idem.NewKey("DeletePaymentMethod", principal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		a, m, ref, err := methodOf(tx, caller, req.GetName())
		if err != nil {
			return err
		}
		if err := accounts.MayChange(caller, a); err != nil {
			return err
		}
		user, err := store.MethodInUse(tx, ref.org, ref.account, m.GetName())
		if err != nil {
			return err
		}
		if user != "" {
			return errs.New(errs.PaymentMethodInUse, "%s is used by %s; replace it there first", m.GetName(), user).With("billing_profile", user)
		}
		if err := store.DeletePaymentMethod(tx, ref.org, ref.account, ref.id); err != nil {
			return err
		}
		return event(tx, ref.org, commercev1.Event_PAYMENT_METHOD_DELETED, caller, m.GetName(), methodMeta(m), now)
	})
	if err != nil {
		return nil, err
	}
	s.committed()
	return resp, nil
}

// methodMeta describes a stored payment method for the audit feed.
func methodMeta(m *billingv1.PaymentMethod) map[string]string {
	switch {
	case m.GetCard() != nil:
		return map[string]string{"brand": m.GetCard().GetBrand().String(), "last4": m.GetCard().GetLast4()}
	case m.GetUnionPay() != nil:
		return map[string]string{"brand": "UNIONPAY", "last4": m.GetUnionPay().GetLast4()}
	case m.GetAlipay() != nil:
		return map[string]string{"brand": "ALIPAY", "last4": m.GetAlipay().GetMaskedLoginId()}
	case m.GetInvoice() != nil:
		id := m.GetInvoice().GetTaxId()
		return map[string]string{"brand": "INVOICE", "last4": id[max(0, len(id)-4):]}
	}
	return nil
}
