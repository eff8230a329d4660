package cards

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

// withCheck pads prefix with zeros to length-1 digits and appends the Luhn
// check digit, giving a valid number of that length.
func withCheck(prefix string, length int) string {
	body := prefix + strings.Repeat("0", length-1-len(prefix))
	for d := byte('0'); d <= '9'; d++ {
		if n := body + string(d); Luhn(n) {
			return n
		}
	}
	panic("no check digit")
}

// wantErr asserts err is an *errs.Error of reason with metadata field.
func wantErr(t *testing.T, err error, reason errs.Reason, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s on %s", reason.Name, field)
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v, want *errs.Error", err, err)
	}
	if got := errs.ReasonOf(err); got != reason.Name {
		t.Errorf("reason = %s, want %s (%v)", got, reason.Name, err)
	}
	if got := e.Metadata["field"]; got != field {
		t.Errorf("field = %q, want %q (%v)", got, field, err)
	}
}

func TestLuhn(t *testing.T) {
	tests := []struct {
		digits string
		want   bool
	}{
		{"4242424242424242", true},
		{"4242424242424241", false},
		{"79927398713", true},
		{"79927398710", false},
		{"378282246310005", true},
		{"6011111111111117", true},
		{"5555555555554444", true},
		{"4000000000000002", true},
		{"4000000000009995", true},
		{"4000000000000341", true},
		{"0000000000000000", true},
		{"1", false},
		{"", false},
		{"4242 4242 4242 4242", false},
		{"424242424242424a", false},
	}
	for _, tt := range tests {
		if got := Luhn(tt.digits); got != tt.want {
			t.Errorf("Luhn(%q) = %v, want %v", tt.digits, got, tt.want)
		}
	}
}

func TestBrand(t *testing.T) {
	tests := []struct {
		prefix string
		want   billingv1.Card_Brand
	}{
		{"4", billingv1.Card_VISA},
		{"4999", billingv1.Card_VISA},
		{"50", billingv1.Card_MAESTRO},
		{"51", billingv1.Card_MASTERCARD},
		{"55", billingv1.Card_MASTERCARD},
		{"56", billingv1.Card_MAESTRO},
		{"58", billingv1.Card_MAESTRO},
		{"59", billingv1.Card_OTHER},
		{"2220", billingv1.Card_OTHER},
		{"2221", billingv1.Card_MASTERCARD},
		{"2500", billingv1.Card_MASTERCARD},
		{"2720", billingv1.Card_MASTERCARD},
		{"2721", billingv1.Card_OTHER},
		{"34", billingv1.Card_AMERICAN_EXPRESS},
		{"37", billingv1.Card_AMERICAN_EXPRESS},
		{"35", billingv1.Card_OTHER},
		{"6011", billingv1.Card_DISCOVER},
		{"6012", billingv1.Card_OTHER},
		{"643", billingv1.Card_OTHER},
		{"644", billingv1.Card_DISCOVER},
		{"649", billingv1.Card_DISCOVER},
		{"65", billingv1.Card_DISCOVER},
		{"3527", billingv1.Card_OTHER},
		{"3528", billingv1.Card_JCB},
		{"3589", billingv1.Card_JCB},
		{"3590", billingv1.Card_OTHER},
		{"300", billingv1.Card_DINERS_CLUB},
		{"305", billingv1.Card_DINERS_CLUB},
		{"306", billingv1.Card_OTHER},
		{"36", billingv1.Card_DINERS_CLUB},
		{"38", billingv1.Card_DINERS_CLUB},
		{"39", billingv1.Card_DINERS_CLUB},
		{"62", billingv1.Card_UNIONPAY},
		{"81", billingv1.Card_UNIONPAY},
		{"82", billingv1.Card_OTHER},
		{"6304", billingv1.Card_MAESTRO},
		{"6759", billingv1.Card_MAESTRO},
		{"6760", billingv1.Card_OTHER},
		{"6761", billingv1.Card_MAESTRO},
		{"6763", billingv1.Card_MAESTRO},
		{"6764", billingv1.Card_OTHER},
		{"1", billingv1.Card_OTHER},
		{"9", billingv1.Card_OTHER},
	}
	for _, tt := range tests {
		number := tt.prefix + strings.Repeat("0", 16-len(tt.prefix))
		if got := Brand(number); got != tt.want {
			t.Errorf("Brand(%s…) = %s, want %s", tt.prefix, got, tt.want)
		}
	}
	// Separators are ignored; short or odd input is OTHER.
	for number, want := range map[string]billingv1.Card_Brand{
		"2-221 0000":          billingv1.Card_MASTERCARD,
		"3 7 8282246310005":   billingv1.Card_AMERICAN_EXPRESS,
		"":                    billingv1.Card_OTHER,
		"2":                   billingv1.Card_OTHER,
		"x4242424242424242":   billingv1.Card_OTHER,
		"4242 4242 4242 4242": billingv1.Card_VISA,
	} {
		if got := Brand(number); got != want {
			t.Errorf("Brand(%q) = %s, want %s", number, got, want)
		}
	}
}

func TestValidLength(t *testing.T) {
	tests := []struct {
		brand billingv1.Card_Brand
		ok    []int
	}{
		{billingv1.Card_VISA, []int{13, 16, 19}},
		{billingv1.Card_MASTERCARD, []int{16}},
		{billingv1.Card_AMERICAN_EXPRESS, []int{15}},
		{billingv1.Card_DISCOVER, []int{16, 17, 18, 19}},
		{billingv1.Card_JCB, []int{16, 17, 18, 19}},
		{billingv1.Card_DINERS_CLUB, []int{14, 15, 16, 17, 18, 19}},
		{billingv1.Card_UNIONPAY, []int{16, 17, 18, 19}},
		{billingv1.Card_MAESTRO, []int{12, 13, 14, 15, 16, 17, 18, 19}},
		{billingv1.Card_OTHER, []int{12, 13, 14, 15, 16, 17, 18, 19}},
		{billingv1.Card_BRAND_UNSPECIFIED, nil},
	}
	for _, tt := range tests {
		for n := 0; n <= 25; n++ {
			want := false
			for _, ok := range tt.ok {
				want = want || n == ok
			}
			if got := ValidLength(tt.brand, n); got != want {
				t.Errorf("ValidLength(%s, %d) = %v, want %v", tt.brand, n, got, want)
			}
		}
	}
}

func TestSecurityCodeLength(t *testing.T) {
	for b := range billingv1.Card_Brand_name {
		brand := billingv1.Card_Brand(b)
		want := 3
		if brand == billingv1.Card_AMERICAN_EXPRESS {
			want = 4
		}
		if got := SecurityCodeLength(brand); got != want {
			t.Errorf("SecurityCodeLength(%s) = %d, want %d", brand, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "4242424242424242", want: "4242424242424242"},
		{in: "4242 4242 4242 4242", want: "4242424242424242"},
		{in: "4242-4242-4242-4242", want: "4242424242424242"},
		{in: " 4242 - 4242--4242 4242 ", want: "4242424242424242"},
		{in: "", want: ""},
		{in: "4242a42424242424", bad: true},
		{in: "4242.4242.4242.4242", bad: true},
		{in: "4242\t4242\t4242\t4242", bad: true},
		{in: "4242_4242_4242_4242", bad: true},
		{in: "４２４２４２４２４２４２４２４２", bad: true}, // full-width digits
		{in: "+4242424242424242", bad: true},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if tt.bad {
			wantErr(t, err, errs.InvalidCard, "card.number")
			if err != nil && strings.Contains(err.Error(), "4242") {
				t.Errorf("Normalize(%q) error %q holds digits of the number", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestMasked(t *testing.T) {
	if got, want := Masked("4242"), "•••• 4242"; got != want {
		t.Errorf("Masked = %q, want %q", got, want)
	}
}

// TestIINRangesWellFormed guards the table: bounds of one length, lo <= hi,
// and no two ranges overlapping.
func TestIINRangesWellFormed(t *testing.T) {
	for i, r := range iinRanges {
		if len(r.lo) != len(r.hi) || r.lo > r.hi || !allDigits(r.lo) || !allDigits(r.hi) {
			t.Errorf("range %d %v is malformed", i, r)
		}
		if _, ok := lengths[r.brand]; !ok {
			t.Errorf("brand %s has no lengths", r.brand)
		}
	}
	// Every 4-digit prefix belongs to at most one range.
	for p := 1000; p <= 9999; p++ {
		prefix := fmt.Sprint(p)
		matched := 0
		for _, r := range iinRanges {
			q := prefix[:len(r.lo)]
			if q >= r.lo && q <= r.hi {
				matched++
			}
		}
		if matched > 1 {
			t.Errorf("prefix %s matches %d ranges", prefix, matched)
		}
	}
}
