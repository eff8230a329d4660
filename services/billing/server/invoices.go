package server

import (
	"context"
	"encoding/binary"
	"time"

	"golang.org/x/text/language"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/billing/accounts"
	"github.com/selfserve/selfserve/services/billing/invoicepdf"
	"github.com/selfserve/selfserve/services/billing/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/page"
)

// Invoices implements InvoiceService: owners and admins read invoices.
type Invoices struct {
	billingv1.UnimplementedInvoiceServiceServer
	*Deps
}

// Period is the [from, to) range of issue times a list covers at now.
func Period(req *billingv1.ListInvoicesRequest, now time.Time) (time.Time, time.Time, error) {
	// Invoices issued at now are included.
	end := now.Add(time.Nanosecond)
	switch req.GetPeriod() {
	case billingv1.ListInvoicesRequest_PERIOD_UNSPECIFIED, billingv1.ListInvoicesRequest_PAST_3_MONTHS:
		return now.AddDate(0, -3, 0), end, nil
	case billingv1.ListInvoicesRequest_PAST_6_MONTHS:
		return now.AddDate(0, -6, 0), end, nil
	case billingv1.ListInvoicesRequest_CUSTOM:
		if req.GetStartTime() == nil || req.GetEndTime() == nil {
			return time.Time{}, time.Time{}, errs.Field("start_time", "a CUSTOM period needs start_time and end_time")
		}
		for field, ts := range map[string]interface{ CheckValid() error }{"start_time": req.GetStartTime(), "end_time": req.GetEndTime()} {
			if ts.CheckValid() != nil {
				return time.Time{}, time.Time{}, errs.Field(field, "%s must be a time from year 1 to 9999", field)
			}
		}
		from, to := req.GetStartTime().AsTime(), req.GetEndTime().AsTime()
		if !from.Before(to) {
			return time.Time{}, time.Time{}, errs.Field("end_time", "end_time must be after start_time")
		}
		if from.Unix() < 0 {
			from = time.Unix(0, 0)
		}
		return from, to, nil
	}
	return time.Time{}, time.Time{}, errs.Field("period", "period must be PAST_3_MONTHS, PAST_6_MONTHS or CUSTOM")
}

// ListInvoices lists an account's invoices of a period, newest first.
func (s *Invoices) ListInvoices(ctx context.Context, req *billingv1.ListInvoicesRequest) (*billingv1.ListInvoicesResponse, error) {
	var org, acct string
	err := names.ParseInto("parent", req.GetParent(), accounts.AccountPattern, &org, &acct)
	if err != nil {
		return nil, err
	}
	size, err := page.Size(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	from, to, err := Period(req, s.Clock.Now())
	if err != nil {
		return nil, err
	}
	// A page token keeps the range it was made for, so that paging while the
	// clock moves neither skips nor repeats an invoice.
	bind := page.Binding("ListInvoices", req.GetParent(), req.GetPeriod().String(), req.GetStartTime().String(), req.GetEndTime().String())
	before, err := page.Cursor(req.GetPageToken(), bind)
	if err != nil {
		return nil, err
	}
	if before != nil && len(before) > 8 {
		from = time.Unix(0, int64(binary.BigEndian.Uint64(before[:8])))
		before = before[8:]
	}
	resp := &billingv1.ListInvoicesResponse{}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		if _, _, err := accountSeen(tx, auth.FromContext(ctx), org, acct, req.GetParent(), accounts.SeesInvoices); err != nil {
			return err
		}
		var next []byte
		var err error
		resp.Invoices, next, err = store.ListInvoices(tx, org, acct, from, to, before, size)
		lang := locale.FromContext(ctx)
		for _, inv := range resp.Invoices {
			if _, err := inLanguage(tx, fapiaoState(inv, s.Clock.Now()), lang); err != nil {
				return err
			}
		}
		if next != nil {
			resp.NextPageToken = page.Token(bind, append(kv.Uint64(uint64(from.UnixNano())), next...))
		}
		return err
	})
	return resp, err
}

// invoice reads an invoice of an account the caller may see, its lines
// described in the caller's language.
func (s *Invoices) invoice(ctx context.Context, name string) (*billingv1.Invoice, *billingv1.BillingAccount, *billingv1.BillingProfile, licensingv1.Organization_Cloud, error) {
	var org, acct, invoice string
	err := names.ParseInto("name", name, accounts.InvoicePattern, &org, &acct, &invoice)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	var inv *billingv1.Invoice
	var a *billingv1.BillingAccount
	var p *billingv1.BillingProfile
	var cloud licensingv1.Organization_Cloud
	err = s.Store.DB.View(func(tx kv.Tx) error {
		if a, cloud, err = accountSeen(tx, auth.FromContext(ctx), org, acct, name, accounts.SeesInvoices); err != nil {
			return err
		}
		if inv, err = store.GetInvoice(tx, org, acct, invoice); err != nil {
			return err
		}
		if inv, err = inLanguage(tx, inv, locale.FromContext(ctx)); err != nil {
			return err
		}
		var porg, pacct, prof string
		if names.Scan(inv.GetBillingProfile(), accounts.ProfilePattern, &porg, &pacct, &prof) {
			p, _ = store.GetProfile(tx, porg, pacct, prof)
		}
		return nil
	})
	return inv, a, p, cloud, err
}

// GetInvoice reads an invoice.
func (s *Invoices) GetInvoice(ctx context.Context, req *billingv1.GetInvoiceRequest) (*billingv1.Invoice, error) {
	inv, _, _, _, err := s.invoice(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	return fapiaoState(inv, s.Clock.Now()), nil
}

// inLanguage gives each line of inv its description in lang, when commerce
// wrote one in that language.
func inLanguage(tx kv.Tx, inv *billingv1.Invoice, lang language.Tag) (*billingv1.Invoice, error) {
	texts, err := store.GetInvoiceTexts(tx, inv.GetName())
	if err != nil || len(texts) != len(inv.GetLineItems()) {
		return inv, err
	}
	code := locale.Code(lang)
	for i, l := range inv.GetLineItems() {
		if d := texts[i][code]; d != "" {
			l.Description = d
		}
	}
	return inv, nil
}

// DownloadInvoice renders an invoice as a PDF in the caller's language.
func (s *Invoices) DownloadInvoice(ctx context.Context, req *billingv1.DownloadInvoiceRequest) (*billingv1.InvoiceDocument, error) {
	inv, a, p, cloud, err := s.invoice(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	seller := invoicepdf.DefaultSeller
	if cloud == licensingv1.Organization_CHINA_21VIANET {
		seller = invoicepdf.ChinaSeller
	}
	lang := locale.FromContext(ctx)
	pdf, err := invoicepdf.Renderer{CJK: s.CJKFont.Load()}.Render(invoicepdf.Document{Invoice: inv, Account: a, Profile: p, Seller: seller}, lang)
	if err != nil {
		return nil, err
	}
	return &billingv1.InvoiceDocument{ContentType: "application/pdf", Data: pdf, FileName: inv.GetInvoiceNumber() + ".pdf"}, nil
}

// FapiaoAfter is how long a requested Fapiao takes to be issued.
const FapiaoAfter = 3 * 24 * time.Hour

// fapiaoState tells where a requested Fapiao stands at now: it is issued
// FapiaoAfter its request, on the business clock.
func fapiaoState(inv *billingv1.Invoice, now time.Time) *billingv1.Invoice {
	f := inv.GetFapiao()
	if f == nil || f.GetState() == billingv1.Fapiao_READY || now.Before(f.GetReadyTime().AsTime()) {
		return inv
	}
	f.State = billingv1.Fapiao_READY
	f.FapiaoNumber = inv.GetInvoiceNumber() + "-FP"
	return inv
}

// RequestFapiao requests the Fapiao of a paid invoice of a 21Vianet account.
func (s *Invoices) RequestFapiao(ctx context.Context, req *billingv1.RequestFapiaoRequest) (*billingv1.Invoice, error) {
	var org, acct, invoice string
	err := names.ParseInto("name", req.GetName(), accounts.InvoicePattern, &org, &acct, &invoice)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	resp := &billingv1.Invoice{}
	_, err = idem.Update(ctx, s.Store.DB, idem.NewKey("RequestFapiao", principal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		a, cloud, err := accountSeen(tx, caller, org, acct, req.GetName(), accounts.SeesInvoices)
		if err != nil {
			return err
		}
		if err := accounts.MayChange(caller, a); err != nil {
			return err
		}
		inv, err := store.GetInvoice(tx, org, acct, invoice)
		if err != nil {
			return err
		}
		switch {
		case cloud != licensingv1.Organization_CHINA_21VIANET:
			return errs.New(errs.FapiaoNotAvailable, "Fapiao are issued in the 21Vianet cloud only")
		case inv.GetStatus() != billingv1.Invoice_PAID:
			return errs.New(errs.FapiaoNotAvailable, "%s is %s; a Fapiao is issued for a paid invoice", inv.GetName(), inv.GetStatus()).With("status", inv.GetStatus().String())
		case inv.GetFapiao() == nil:
			inv.Fapiao = &billingv1.Fapiao{State: billingv1.Fapiao_REQUESTED, RequestTime: timestamppb.New(now), ReadyTime: timestamppb.New(now.Add(FapiaoAfter))}
			if err := store.PutInvoice(tx, inv); err != nil {
				return err
			}
		}
		proto.Merge(resp, fapiaoState(inv, now))
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = s.Store.DB.View(func(tx kv.Tx) error {
		_, err := inLanguage(tx, resp, locale.FromContext(ctx))
		return err
	})
	return resp, err
}
