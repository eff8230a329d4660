package gateway

import (
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

// decodeError decodes body into v as a generated handler does and returns
// the error handleError would see, decoded again.
func decodeError(t *testing.T, body string, v any) *errs.Error {
	t.Helper()
	err := jsonMarshaler().NewDecoder(strings.NewReader(body)).Decode(v)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	// The generated code keeps only the text.
	st := status.Newf(codes.InvalidArgument, "%v", err)
	e, ok := decodedBodyError(st.Message())
	if !ok {
		t.Fatalf("decode %s: %v is not a body error", body, err)
	}
	if strings.Contains(e.Message, "proto:") || strings.Contains(e.Message, "protojson") {
		t.Errorf("decode %s: message shows protojson's text: %s", body, e.Message)
	}
	return e
}

func TestDecodeErrors(t *testing.T) {
	for _, tt := range []struct {
		name, body     string
		into           func() any
		reason, field  string
		allowed, quote string // allowed: ErrorInfo "allowed"; quote: part of the message
	}{
		{name: "unknown enum", body: `{"reason":"EXPENSIVE"}`, into: cancel,
			reason: "INVALID_FIELD", field: "reason", allowed: "NO_LONGER_NEEDED,TOO_EXPENSIVE", quote: `not "EXPENSIVE"`},
		{name: "enum as a bool", body: `{"reason":true}`, into: cancel, reason: "INVALID_FIELD", field: "reason", quote: "as a string"},
		{name: "unknown field", body: `{"reason":"TOO_EXPENSIVE","feedbak":"x"}`, into: cancel,
			reason: "INVALID_FIELD", field: "feedbak", quote: "feedbak is not a field of CancelSubscriptionRequest"},
		{name: "wrong type", body: `{"quantity":"three"}`, into: purchase, reason: "INVALID_FIELD", field: "quantity", quote: "32-bit integer"},
		{name: "fraction", body: `{"quantity":1.5}`, into: purchase, reason: "INVALID_FIELD", field: "quantity"},
		{name: "out of range", body: `{"quantity":3000000000}`, into: purchase, reason: "INVALID_FIELD", field: "quantity", quote: "out of range"},
		{name: "string for a string", body: `{"product":7}`, into: purchase, reason: "INVALID_FIELD", field: "product", quote: "must be a string"},
		{name: "twice", body: `{"requestId":"a","request_id":"b"}`, into: purchase, reason: "INVALID_FIELD", field: "request_id", quote: "twice"},
		{name: "malformed", body: `{"quantity":`, into: purchase, reason: "INVALID_JSON", quote: "ends at byte"},
		{name: "syntax", body: `{"quantity" 3}`, into: purchase, reason: "INVALID_JSON", quote: "byte 13"},
		{name: "two values", body: `{} {}`, into: purchase, reason: "INVALID_JSON", quote: "more than one"},
		{name: "not an object", body: `[1]`, into: purchase, reason: "INVALID_FIELD", quote: "must be an object"},
		{name: "not UTF-8", body: "{\"product\":\"\xff\"}", into: purchase, reason: "INVALID_JSON", quote: "UTF-8"},
		// A body field: paths read from the request.
		{name: "nested unknown", body: `{"soldTo":{"countryCod":"SE"}}`, into: account,
			reason: "INVALID_FIELD", field: "billingAccount.soldTo.countryCod"},
		{name: "nested type", body: `{"soldTo":{"countryCode":46}}`, into: account,
			reason: "INVALID_FIELD", field: "billingAccount.soldTo.countryCode", quote: "must be a string"},
		{name: "timestamp", body: `{"createTime":"yesterday"}`, into: account,
			reason: "INVALID_FIELD", field: "billingAccount.createTime", quote: "RFC 3339"},
		{name: "oneof twice", body: `{"card":{},"alipay":{}}`, into: method,
			reason: "INVALID_FIELD", field: "paymentMethod.alipay", quote: "only one"},
		{name: "fine", body: `{"reason":"TOO_EXPENSIVE","feedback":"ok"}`, into: cancel},
		{name: "numbers as strings", body: `{"quantity":"3","billingFrequency":"MONTHLY"}`, into: purchase},
		{name: "empty", body: ``, into: purchase},
		{name: "nulls", body: `{"reason":null,"feedback":null}`, into: cancel},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := decodeError(t, tt.body, tt.into())
			if tt.reason == "" {
				if e != nil {
					t.Fatalf("decode %s: %v", tt.body, e)
				}
				return
			}
			if e == nil {
				t.Fatalf("decode %s: no error, want %s", tt.body, tt.reason)
			}
			if e.Reason.Name != tt.reason || e.Metadata["field"] != tt.field {
				t.Errorf("decode %s: %s field %q, want %s field %q (%s)", tt.body, e.Reason.Name, e.Metadata["field"], tt.reason, tt.field, e.Message)
			}
			if !strings.HasPrefix(e.Metadata["allowed"], tt.allowed) {
				t.Errorf("decode %s: allowed %q, want it to start with %q", tt.body, e.Metadata["allowed"], tt.allowed)
			}
			if strings.Contains(e.Metadata["allowed"], "UNSPECIFIED") {
				t.Errorf("allowed lists the unset value: %q", e.Metadata["allowed"])
			}
			if !strings.Contains(e.Message, tt.quote) {
				t.Errorf("decode %s: message %q does not say %q", tt.body, e.Message, tt.quote)
			}
		})
	}
}

func cancel() any   { return &commercev1.CancelSubscriptionRequest{} }
func purchase() any { return &commercev1.PurchaseSubscriptionRequest{} }
func account() any  { return new(*billingv1.BillingAccount) }
func method() any   { return new(*billingv1.PaymentMethod) }

// A body that decodes leaves what protojson made of it.
func TestDecodeKeepsTheMessage(t *testing.T) {
	var acct *billingv1.BillingAccount
	if err := jsonMarshaler().NewDecoder(strings.NewReader(`{"displayName":"Contoso","sold_to":{"countryCode":"SE"}}`)).Decode(&acct); err != nil {
		t.Fatal(err)
	}
	want := &billingv1.BillingAccount{DisplayName: "Contoso", SoldTo: &billingv1.Address{CountryCode: "SE"}}
	if !proto.Equal(acct, want) {
		t.Fatalf("decoded %v, want %v", acct, want)
	}
}

func TestQueryErrors(t *testing.T) {
	for _, tt := range []struct {
		query, field, quote string
	}{
		{"pageSize=ten", "pageSize", "32-bit integer"},
		{"page_size=1.5", "page_size", "32-bit integer"},
	} {
		values, _ := url.ParseQuery(tt.query)
		err := (&queryParser{}).Parse(&commercev1.ListSubscriptionsRequest{}, values, utilities.NewDoubleArray(nil))
		if err == nil {
			t.Fatalf("%s: no error", tt.query)
		}
		e, ok := decodedBodyError(status.Newf(codes.InvalidArgument, "%v", err).Message())
		if !ok || e.Reason != errs.InvalidField || e.Metadata["field"] != tt.field || !strings.Contains(e.Message, tt.quote) {
			t.Errorf("%s: %v (ok %v), want INVALID_FIELD on %s saying %q", tt.query, e, ok, tt.field, tt.quote)
		}
	}
	values, _ := url.ParseQuery("pageSize=10&unknown=1")
	if err := (&queryParser{}).Parse(&commercev1.ListSubscriptionsRequest{}, values, utilities.NewDoubleArray(nil)); err != nil {
		t.Errorf("a good query: %v", err)
	}
}

func TestCamelNames(t *testing.T) {
	for in, want := range map[string]string{
		`billing_account.sold_to.country_code is required`:        `billingAccount.soldTo.countryCode is required`,
		`"payment_method" cannot be updated; updatable: poNumber`: `"payment_method" cannot be updated; updatable: poNumber`,
		`updatable: display_name, payment_method`:                 `updatable: displayName, paymentMethod`,
		`line_items[0].period_end ends before it starts`:          `lineItems[0].periodEnd ends before it starts`,
		`NOT_ENOUGH_LICENSES stays`:                               `NOT_ENOUGH_LICENSES stays`,
		`address_line_2`:                                          `addressLine2`,
	} {
		if got := camelText(in); got != want {
			t.Errorf("camelText(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecode: any body either decodes as protojson decodes it, or is refused
// with INVALID_JSON or INVALID_FIELD and never protojson's text; the walk
// that explains a refusal never panics.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"reason":"EXPENSIVE"}`, `{"soldTo":{"countryCode":46}}`, `{"card":{},"alipay":null}`,
		`{"createTime":"2026-12-06T10:00:00Z","displayName":"x"}`, `[`, `{"a":[1,{"b":2}]}`, `{"quantity":"1e2"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, into := range []func() any{cancel, purchase, account, method} {
			v := into()
			err := jsonMarshaler().NewDecoder(strings.NewReader(string(body))).Decode(v)
			if err == nil || errors.Is(err, io.EOF) {
				continue
			}
			e, ok := decodedBodyError(status.Newf(codes.InvalidArgument, "%v", err).Message())
			if !ok || (e.Reason != errs.InvalidJSON && e.Reason != errs.InvalidField) {
				t.Fatalf("%q: %v", body, err)
			}
			if strings.Contains(e.Message, "proto:") {
				t.Fatalf("%q: protojson's text: %s", body, e.Message)
			}
		}
	})
}
