package cards

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

func TestAllowedIn(t *testing.T) {
	global := licensingv1.Organization_GLOBAL
	china := licensingv1.Organization_CHINA_21VIANET
	unset := licensingv1.Organization_CLOUD_UNSPECIFIED
	tests := []struct {
		cloud   licensingv1.Organization_Cloud
		method  string
		allowed bool
	}{
		{global, MethodCard, true},
		{global, MethodAlipay, false},
		{global, MethodUnionPay, false},
		{china, MethodCard, false},
		{china, MethodAlipay, true},
		{china, MethodUnionPay, true},
		{unset, MethodCard, true},
		{unset, MethodAlipay, false},
		{unset, MethodUnionPay, false},
		{global, MethodInvoice, false},
		{china, MethodInvoice, true},
	}
	for _, tt := range tests {
		err := AllowedIn(tt.cloud, tt.method)
		if tt.allowed {
			if err != nil {
				t.Errorf("AllowedIn(%s, %s) = %v, want nil", tt.cloud, tt.method, err)
			}
			continue
		}
		wantErr(t, err, errs.PaymentMethodNotSupported, "payment_method."+tt.method)
	}
	for _, m := range []string{"", "bank_transfer", "CARD", "unionpay"} {
		wantErr(t, AllowedIn(global, m), errs.InvalidField, "payment_method")
	}
}

func TestValidateUnionPay(t *testing.T) {
	tests := []struct {
		name   string
		in     *billingv1.UnionPay
		field  string // empty: valid
		reason errs.Reason
		last4  string
	}{
		{name: "62, 16 digits", in: &billingv1.UnionPay{Number: proto.String(withCheck("62", 16)), HolderName: " 李雷 "}},
		{name: "62, 19 digits", in: &billingv1.UnionPay{Number: proto.String(withCheck("6212", 19))}},
		{name: "81", in: &billingv1.UnionPay{Number: proto.String(withCheck("8171", 16))}},
		{name: "spaced", in: &billingv1.UnionPay{Number: proto.String("6200 0000 0000 0005")}},
		{name: "nil", in: nil, field: "union_pay.number", reason: errs.InvalidCard},
		{name: "15 digits", in: &billingv1.UnionPay{Number: proto.String(withCheck("62", 15))}, field: "union_pay.number", reason: errs.InvalidCard},
		{name: "20 digits", in: &billingv1.UnionPay{Number: proto.String(withCheck("62", 20))}, field: "union_pay.number", reason: errs.InvalidCard},
		{name: "luhn", in: &billingv1.UnionPay{Number: proto.String("6200000000000006")}, field: "union_pay.number", reason: errs.InvalidCard},
		{name: "visa", in: &billingv1.UnionPay{Number: proto.String(visa)}, field: "union_pay.number", reason: errs.InvalidCard},
		{name: "letters", in: &billingv1.UnionPay{Number: proto.String("62000000000000o5")}, field: "union_pay.number", reason: errs.InvalidCard},
		{name: "holder control", in: &billingv1.UnionPay{Number: proto.String(withCheck("62", 16)), HolderName: "a\tb"}, field: "union_pay.holder_name", reason: errs.InvalidField},
		{name: "holder too long", in: &billingv1.UnionPay{Number: proto.String(withCheck("62", 16)), HolderName: strings.Repeat("李", 201)}, field: "union_pay.holder_name", reason: errs.InvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidateUnionPay(tt.in)
			if tt.field != "" {
				wantErr(t, err, tt.reason, tt.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			digits := strings.ReplaceAll(tt.in.GetNumber(), " ", "")
			if got.Number != digits || got.Last4 != digits[len(digits)-4:] || got.HolderName != strings.TrimSpace(tt.in.HolderName) {
				t.Errorf("got %+v", got)
			}
			stored := StoredUnionPay(got)
			want := &billingv1.UnionPay{Last4: got.Last4, HolderName: got.HolderName}
			if !proto.Equal(stored, want) {
				t.Errorf("StoredUnionPay = %v, want %v", stored, want)
			}
			js, _ := json.Marshal(got)
			for _, s := range []string{fmt.Sprint(got), fmt.Sprintf("%#v", got), string(js), fmt.Sprint(stored)} {
				assertNoSecret(t, "UnionPay", s, digits, "")
			}
		})
	}
}

func TestValidateAlipay(t *testing.T) {
	tests := []struct {
		login  string
		masked string // empty: invalid
	}{
		{"alice@example.com", "a***@example.com"},
		{"  alice@example.com ", "a***@example.com"},
		{"buyer+decline@example.com", "b***@example.com"},
		{"x@mail.example.cn", "x***@mail.example.cn"},
		{"first.last@sub-domain.example.org", "f***@sub-domain.example.org"},
		{"13812341234", "*******1234"},
		{"+8613812341234", "*********1234"},
		{"123456", "**3456"},
		{"123456789012345", "***********2345"},

		{"", ""},
		{"   ", ""},
		{"@example.com", ""},
		{"alice@", ""},
		{"alice@example", ""},
		{"alice@@example.com", ""},
		{"a@b@example.com", ""},
		{"al ice@example.com", ""},
		{"alice..x@example.com", ""},
		{".alice@example.com", ""},
		{"alice@-example.com", ""},
		{"alice@example..com", ""},
		{"alice@exa_mple.com", ""},
		{"Alice <alice@example.com>", ""},
		{strings.Repeat("a", 65) + "@example.com", ""},
		{"a@" + strings.Repeat("b", 250) + ".com", ""},
		{"12345", ""},
		{"1234567890123456", ""},
		{"++8613812341234", ""},
		{"138-1234-1234", ""},
		{"138 1234 1234", ""},
		{"alice", ""},
	}
	for _, tt := range tests {
		got, err := ValidateAlipay(&billingv1.Alipay{LoginId: proto.String(tt.login), HolderName: "Han Meimei"})
		if tt.masked == "" {
			wantErr(t, err, errs.InvalidField, "alipay.login_id")
			if err != nil && strings.TrimSpace(tt.login) != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.login)) {
				t.Errorf("error %q holds the login", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ValidateAlipay(%q): %v", tt.login, err)
			continue
		}
		if got.MaskedLogin != tt.masked || got.Login != strings.TrimSpace(tt.login) || got.HolderName != "Han Meimei" {
			t.Errorf("ValidateAlipay(%q) = %+v, want masked %q", tt.login, got, tt.masked)
		}
		stored := StoredAlipay(got)
		if !proto.Equal(stored, &billingv1.Alipay{MaskedLoginId: tt.masked, HolderName: "Han Meimei"}) {
			t.Errorf("StoredAlipay = %v", stored)
		}
		js, _ := json.Marshal(got)
		for _, s := range []string{fmt.Sprint(got), fmt.Sprintf("%#v", got), string(js), fmt.Sprint(stored)} {
			if strings.Contains(s, got.Login) {
				t.Errorf("%q shows the login", s)
			}
		}
	}

	_, err := ValidateAlipay(nil)
	wantErr(t, err, errs.InvalidField, "alipay.login_id")
	_, err = ValidateAlipay(&billingv1.Alipay{LoginId: proto.String("alice@example.com"), HolderName: "a\nb"})
	wantErr(t, err, errs.InvalidField, "alipay.holder_name")
	if a, err := ValidateAlipay(&billingv1.Alipay{LoginId: proto.String("alice@example.com")}); err != nil || a.HolderName != "" {
		t.Errorf("an Alipay account without holder: %+v, %v", a, err)
	}
}

// The errors of this package are all *errs.Error, so the server maps them.
func TestErrorsAreDomainErrors(t *testing.T) {
	for _, err := range []error{
		AllowedIn(licensingv1.Organization_CHINA_21VIANET, MethodCard),
		func() error { _, err := ValidateNew(nil, now); return err }(),
		func() error { _, err := ValidateEdit(storedVisa(), nil, now); return err }(),
		func() error { _, err := ValidateUnionPay(nil); return err }(),
		func() error { _, err := ValidateAlipay(nil); return err }(),
	} {
		var e *errs.Error
		if !errors.As(err, &e) {
			t.Errorf("%T %v is not an *errs.Error", err, err)
		}
	}
}
