package cards

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

// now is mid-May 2026, UTC.
var now = time.Date(2026, time.May, 15, 12, 0, 0, 0, time.UTC)

const (
	visa = "4242424242424242"
	amex = "378282246310005"
)

func card(number, code string, month, year int32) *billingv1.Card {
	return &billingv1.Card{
		Number:       proto.String(number),
		ExpMonth:     month,
		ExpYear:      year,
		SecurityCode: proto.String(code),
		HolderName:   "Ada Lovelace",
	}
}

func TestValidateNew(t *testing.T) {
	type mod func(*billingv1.Card)
	tests := []struct {
		name   string
		card   *billingv1.Card
		mod    mod
		reason errs.Reason // zero: valid
		field  string
		brand  billingv1.Card_Brand
	}{
		{name: "visa", card: card(visa, "123", 12, 2028), brand: billingv1.Card_VISA},
		{name: "visa 13", card: card(withCheck("4", 13), "123", 12, 2028), brand: billingv1.Card_VISA},
		{name: "visa 19", card: card(withCheck("4", 19), "123", 12, 2028), brand: billingv1.Card_VISA},
		{name: "spaces", card: card("4242 4242 4242 4242", "123", 12, 2028), brand: billingv1.Card_VISA},
		{name: "hyphens", card: card("4242-4242-4242-4242", "123", 12, 2028), brand: billingv1.Card_VISA},
		{name: "mastercard 2-series", card: card(withCheck("2221", 16), "123", 12, 2028), brand: billingv1.Card_MASTERCARD},
		{name: "mastercard", card: card("5555555555554444", "123", 12, 2028), brand: billingv1.Card_MASTERCARD},
		{name: "amex 4-digit code", card: card(amex, "1234", 12, 2028), brand: billingv1.Card_AMERICAN_EXPRESS},
		{name: "discover", card: card("6011111111111117", "123", 12, 2028), brand: billingv1.Card_DISCOVER},
		{name: "diners 14", card: card(withCheck("36", 14), "123", 12, 2028), brand: billingv1.Card_DINERS_CLUB},
		{name: "jcb", card: card(withCheck("3530", 16), "123", 12, 2028), brand: billingv1.Card_JCB},
		{name: "unionpay", card: card(withCheck("62", 19), "123", 12, 2028), brand: billingv1.Card_UNIONPAY},
		{name: "maestro 12", card: card(withCheck("6759", 12), "123", 12, 2028), brand: billingv1.Card_MAESTRO},
		{name: "other 12", card: card(withCheck("9", 12), "123", 12, 2028), brand: billingv1.Card_OTHER},
		{name: "simulator decline card is valid", card: card("4000000000000002", "123", 12, 2028), brand: billingv1.Card_VISA},

		{name: "nil card", card: nil, reason: errs.InvalidCard, field: "card"},
		{name: "no number", card: card("", "123", 12, 2028), reason: errs.InvalidCard, field: "card.number"},
		{name: "letters", card: card("4242a42424242424", "123", 12, 2028), reason: errs.InvalidCard, field: "card.number"},
		{name: "11 digits", card: card(withCheck("9", 11), "123", 12, 2028), reason: errs.InvalidCard, field: "card.number"},
		{name: "20 digits", card: card(withCheck("9", 20), "123", 12, 2028), reason: errs.InvalidCard, field: "card.number"},
		{name: "luhn", card: card("4242424242424241", "123", 12, 2028), reason: errs.InvalidCard, field: "card.number"},
		{name: "visa 14", card: card(withCheck("4", 14), "123", 12, 2028), reason: errs.InvalidCard, field: "card.number"},
		{name: "mastercard 19", card: card(withCheck("51", 19), "123", 12, 2028), reason: errs.InvalidCard, field: "card.number"},
		{name: "amex 16", card: card(withCheck("37", 16), "1234", 12, 2028), reason: errs.InvalidCard, field: "card.number"},
		{name: "diners 13", card: card(withCheck("36", 13), "123", 12, 2028), reason: errs.InvalidCard, field: "card.number"},
		{name: "unionpay 15", card: card(withCheck("62", 15), "123", 12, 2028), reason: errs.InvalidCard, field: "card.number"},

		{name: "expires this month", card: card(visa, "123", 5, 2026), brand: billingv1.Card_VISA},
		{name: "expired last month", card: card(visa, "123", 4, 2026), reason: errs.InvalidCard, field: "card.exp_month"},
		{name: "expired last year", card: card(visa, "123", 12, 2025), reason: errs.InvalidCard, field: "card.exp_year"},
		{name: "month 0", card: card(visa, "123", 0, 2028), reason: errs.InvalidCard, field: "card.exp_month"},
		{name: "month 13", card: card(visa, "123", 13, 2028), reason: errs.InvalidCard, field: "card.exp_month"},
		{name: "2-digit year", card: card(visa, "123", 12, 28), reason: errs.InvalidCard, field: "card.exp_year"},
		{name: "5-digit year", card: card(visa, "123", 12, 20280), reason: errs.InvalidCard, field: "card.exp_year"},
		{name: "no year", card: card(visa, "123", 12, 0), reason: errs.InvalidCard, field: "card.exp_year"},

		{name: "no security code", card: card(visa, "", 12, 2028), reason: errs.InvalidCard, field: "card.security_code"},
		{name: "visa 4-digit code", card: card(visa, "1234", 12, 2028), reason: errs.InvalidCard, field: "card.security_code"},
		{name: "visa 2-digit code", card: card(visa, "12", 12, 2028), reason: errs.InvalidCard, field: "card.security_code"},
		{name: "amex 3-digit code", card: card(amex, "123", 12, 2028), reason: errs.InvalidCard, field: "card.security_code"},
		{name: "code letters", card: card(visa, "12a", 12, 2028), reason: errs.InvalidCard, field: "card.security_code"},
		{name: "code spaces", card: card(visa, " 123", 12, 2028), reason: errs.InvalidCard, field: "card.security_code"},

		{name: "no holder", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.HolderName = "" }, reason: errs.InvalidField, field: "card.holder_name"},
		{name: "blank holder", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.HolderName = " \t " }, reason: errs.InvalidField, field: "card.holder_name"},
		{name: "holder 200 runes", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.HolderName = strings.Repeat("é", 200) }, brand: billingv1.Card_VISA},
		{name: "holder 201 runes", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.HolderName = strings.Repeat("é", 201) }, reason: errs.InvalidField, field: "card.holder_name"},
		{name: "holder newline", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.HolderName = "Ada\nLovelace" }, reason: errs.InvalidField, field: "card.holder_name"},
		{name: "holder NUL", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.HolderName = "Ada\x00" }, reason: errs.InvalidField, field: "card.holder_name"},
		{name: "holder line separator", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.HolderName = "Ada\u2028L" }, reason: errs.InvalidField, field: "card.holder_name"},
		{name: "holder bad utf-8", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.HolderName = "Ada\xff" }, reason: errs.InvalidField, field: "card.holder_name"},

		{name: "address", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.Address = &billingv1.Address{CountryCode: "FR", City: "Paris"} }, brand: billingv1.Card_VISA},
		{name: "address without country", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.Address = &billingv1.Address{City: "Paris"} }, brand: billingv1.Card_VISA},
		{name: "lowercase country", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.Address = &billingv1.Address{CountryCode: "fr"} }, reason: errs.InvalidField, field: "card.address.country_code"},
		{name: "3-letter country", card: card(visa, "123", 12, 2028), mod: func(c *billingv1.Card) { c.Address = &billingv1.Address{CountryCode: "FRA"} }, reason: errs.InvalidField, field: "card.address.country_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mod != nil {
				tt.mod(tt.card)
			}
			got, err := ValidateNew(tt.card, now)
			if tt.reason != (errs.Reason{}) {
				wantErr(t, err, tt.reason, tt.field)
				if got != (Checked{}) {
					t.Errorf("Checked = %v on error, want zero", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateNew: %v", err)
			}
			digits := strings.NewReplacer(" ", "", "-", "").Replace(tt.card.GetNumber())
			if got.Number != digits || got.Brand != tt.brand || got.Last4 != digits[len(digits)-4:] {
				t.Errorf("got number %q brand %s last4 %q; want %q %s %q", got.Number, got.Brand, got.Last4, digits, tt.brand, digits[len(digits)-4:])
			}
			if got.ExpMonth != tt.card.ExpMonth || got.ExpYear != tt.card.ExpYear || got.SecurityCode != tt.card.GetSecurityCode() {
				t.Errorf("got exp %d/%d code %q", got.ExpMonth, got.ExpYear, got.SecurityCode)
			}
			if got.HolderName != strings.TrimSpace(tt.card.HolderName) {
				t.Errorf("holder = %q", got.HolderName)
			}
			if !proto.Equal(got.Address, tt.card.Address) {
				t.Errorf("address = %v, want %v", got.Address, tt.card.Address)
			}
		})
	}
}

func TestValidateNewTrimsAndClones(t *testing.T) {
	c := card(visa, "123", 12, 2028)
	c.HolderName = "  Ada Lovelace \t"
	c.Address = &billingv1.Address{CountryCode: "GB", City: "London"}
	got, err := ValidateNew(c, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.HolderName != "Ada Lovelace" {
		t.Errorf("holder = %q", got.HolderName)
	}
	c.Address.City = "Paris"
	if got.Address.GetCity() != "London" {
		t.Errorf("the address was not copied: city %q", got.Address.GetCity())
	}
}

// TestExpiryBoundaries: a card is good until the end of its month in UTC,
// whatever the zone now comes in.
func TestExpiryBoundaries(t *testing.T) {
	paris := time.FixedZone("CEST", 2*3600)
	tests := []struct {
		name string
		now  time.Time
		ok   bool
	}{
		{"first second of the month", time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC), true},
		{"last second of the month", time.Date(2026, time.May, 31, 23, 59, 59, 0, time.UTC), true},
		{"first second of the next month", time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC), false},
		{"still May in UTC, June in Paris", time.Date(2026, time.June, 1, 1, 0, 0, 0, paris), true},
		{"June in UTC", time.Date(2026, time.June, 1, 2, 0, 0, 0, paris), false},
	}
	for _, tt := range tests {
		_, err := ValidateNew(card(visa, "123", 5, 2026), tt.now)
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !tt.ok {
			wantErr(t, err, errs.InvalidCard, "card.exp_month")
		}
	}
	// December rolls over into the next year.
	if _, err := ValidateNew(card(visa, "123", 12, 2026), time.Date(2026, time.December, 31, 23, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("December card on December 31: %v", err)
	}
	_, err := ValidateNew(card(visa, "123", 12, 2026), time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC))
	wantErr(t, err, errs.InvalidCard, "card.exp_year")
}

func TestStored(t *testing.T) {
	c := card(amex, "1234", 7, 2030)
	c.Address = &billingv1.Address{CountryCode: "US", PostalCode: "10001"}
	checked, err := ValidateNew(c, now)
	if err != nil {
		t.Fatal(err)
	}
	got := Stored(checked)
	want := &billingv1.Card{
		Brand:      billingv1.Card_AMERICAN_EXPRESS,
		Last4:      "0005",
		ExpMonth:   7,
		ExpYear:    2030,
		HolderName: "Ada Lovelace",
		Address:    &billingv1.Address{CountryCode: "US", PostalCode: "10001"},
	}
	if !proto.Equal(got, want) {
		t.Errorf("Stored = %v, want %v", got, want)
	}
	if got.GetNumber() != "" || got.GetSecurityCode() != "" {
		t.Error("Stored kept the number or security code")
	}
	assertNoSecret(t, "Stored", fmt.Sprint(got), amex, "1234")
	got.Address.PostalCode = "changed"
	if checked.Address.GetPostalCode() != "10001" {
		t.Error("Stored shares its address with the Checked")
	}
}

// TestCheckedHidesSecrets: printing, logging or JSON-encoding a Checked by
// mistake shows neither the number nor the security code.
func TestCheckedHidesSecrets(t *testing.T) {
	checked, err := ValidateNew(card(amex, "9876", 7, 2030), now)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(checked)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		fmt.Sprint(checked), fmt.Sprintf("%+v", checked), fmt.Sprintf("%#v", checked),
		checked.LogValue().String(), string(js),
	} {
		assertNoSecret(t, "Checked", s, amex, "9876")
	}
	if !strings.Contains(checked.String(), "0005") {
		t.Errorf("String = %q, want the last 4", checked.String())
	}
}

func storedVisa() *billingv1.Card {
	return &billingv1.Card{
		Brand:      billingv1.Card_VISA,
		Last4:      "4242",
		ExpMonth:   12,
		ExpYear:    2027,
		HolderName: "Ada Lovelace",
		Address:    &billingv1.Address{CountryCode: "GB", City: "London"},
	}
}

func TestValidateEdit(t *testing.T) {
	storedAmex := &billingv1.Card{Brand: billingv1.Card_AMERICAN_EXPRESS, Last4: "0005", ExpMonth: 1, ExpYear: 2029, HolderName: "Ada"}
	tests := []struct {
		name   string
		stored *billingv1.Card
		edit   *billingv1.Card
		reason errs.Reason
		field  string
		want   *billingv1.Card // nil: storedVisa with changes below
		change func(*billingv1.Card)
	}{
		{name: "no code", edit: &billingv1.Card{ExpYear: 2030}, reason: errs.SecurityCodeRequired, field: "card.security_code"},
		{name: "nil edit", edit: nil, reason: errs.SecurityCodeRequired, field: "card.security_code"},
		{name: "code too long for visa", edit: &billingv1.Card{SecurityCode: proto.String("1234")}, reason: errs.InvalidCard, field: "card.security_code"},
		{name: "code letters", edit: &billingv1.Card{SecurityCode: proto.String("abc")}, reason: errs.InvalidCard, field: "card.security_code"},
		{name: "amex with 3 digits", stored: storedAmex, edit: &billingv1.Card{SecurityCode: proto.String("123")}, reason: errs.InvalidCard, field: "card.security_code"},
		{name: "amex with 4 digits", stored: storedAmex, edit: &billingv1.Card{SecurityCode: proto.String("1234"), ExpYear: 2031}, want: &billingv1.Card{Brand: billingv1.Card_AMERICAN_EXPRESS, Last4: "0005", ExpMonth: 1, ExpYear: 2031, HolderName: "Ada"}},
		{name: "different number", edit: &billingv1.Card{SecurityCode: proto.String("123"), Number: proto.String("4000056655665556")}, reason: errs.InvalidCard, field: "card.number"},
		{name: "same last 4, other brand", edit: &billingv1.Card{SecurityCode: proto.String("123"), Number: proto.String("5555555555554242")}, reason: errs.InvalidCard, field: "card.number"},
		{name: "number with letters", edit: &billingv1.Card{SecurityCode: proto.String("123"), Number: proto.String("4242x")}, reason: errs.InvalidCard, field: "card.number"},
		{name: "number of separators only", edit: &billingv1.Card{SecurityCode: proto.String("123"), Number: proto.String(" - ")}, reason: errs.InvalidCard, field: "card.number"},
		{name: "same last 4 and brand, bad Luhn", edit: &billingv1.Card{SecurityCode: proto.String("123"), Number: proto.String("4242424242414242")}, reason: errs.InvalidCard, field: "card.number"},
		{name: "same number", edit: &billingv1.Card{SecurityCode: proto.String("123"), Number: proto.String("4242 4242 4242 4242")}},
		{name: "code only keeps everything", edit: &billingv1.Card{SecurityCode: proto.String("123")}},
		{name: "new expiry", edit: &billingv1.Card{SecurityCode: proto.String("123"), ExpMonth: 3, ExpYear: 2031}, change: func(c *billingv1.Card) { c.ExpMonth, c.ExpYear = 3, 2031 }},
		{name: "new month only", edit: &billingv1.Card{SecurityCode: proto.String("123"), ExpMonth: 6}, change: func(c *billingv1.Card) { c.ExpMonth = 6 }},
		{name: "new year only", edit: &billingv1.Card{SecurityCode: proto.String("123"), ExpYear: 2030}, change: func(c *billingv1.Card) { c.ExpYear = 2030 }},
		{name: "expiry this month", edit: &billingv1.Card{SecurityCode: proto.String("123"), ExpMonth: 5, ExpYear: 2026}, change: func(c *billingv1.Card) { c.ExpMonth, c.ExpYear = 5, 2026 }},
		{name: "expiry in the past", edit: &billingv1.Card{SecurityCode: proto.String("123"), ExpMonth: 4, ExpYear: 2026}, reason: errs.InvalidCard, field: "card.exp_month"},
		{name: "month 13", edit: &billingv1.Card{SecurityCode: proto.String("123"), ExpMonth: 13}, reason: errs.InvalidCard, field: "card.exp_month"},
		{name: "year 99", edit: &billingv1.Card{SecurityCode: proto.String("123"), ExpYear: 99}, reason: errs.InvalidCard, field: "card.exp_year"},
		{name: "stored card expired", stored: &billingv1.Card{Brand: billingv1.Card_VISA, Last4: "4242", ExpMonth: 1, ExpYear: 2026, HolderName: "Ada"}, edit: &billingv1.Card{SecurityCode: proto.String("123"), HolderName: "Ada L"}, reason: errs.InvalidCard, field: "card.exp_month"},
		{name: "new holder, trimmed", edit: &billingv1.Card{SecurityCode: proto.String("123"), HolderName: " Grace Hopper "}, change: func(c *billingv1.Card) { c.HolderName = "Grace Hopper" }},
		{name: "blank holder", edit: &billingv1.Card{SecurityCode: proto.String("123"), HolderName: "   "}, reason: errs.InvalidField, field: "card.holder_name"},
		{name: "holder control", edit: &billingv1.Card{SecurityCode: proto.String("123"), HolderName: "Grace\x07"}, reason: errs.InvalidField, field: "card.holder_name"},
		{name: "new address", edit: &billingv1.Card{SecurityCode: proto.String("123"), Address: &billingv1.Address{CountryCode: "FR", City: "Lyon"}}, change: func(c *billingv1.Card) { c.Address = &billingv1.Address{CountryCode: "FR", City: "Lyon"} }},
		{name: "bad address", edit: &billingv1.Card{SecurityCode: proto.String("123"), Address: &billingv1.Address{CountryCode: "france"}}, reason: errs.InvalidField, field: "card.address.country_code"},
		{name: "output-only fields ignored", edit: &billingv1.Card{SecurityCode: proto.String("123"), Brand: billingv1.Card_JCB, Last4: "0000"}},
		{name: "not a card", stored: nil, edit: &billingv1.Card{SecurityCode: proto.String("123")}, reason: errs.InvalidCard, field: "card"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := tt.stored
			if stored == nil && tt.name != "not a card" {
				stored = storedVisa()
			}
			before := proto.Clone(stored)
			got, err := ValidateEdit(stored, tt.edit, now)
			if tt.reason != (errs.Reason{}) {
				wantErr(t, err, tt.reason, tt.field)
				if got != nil {
					t.Errorf("got %v on error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateEdit: %v", err)
			}
			want := tt.want
			if want == nil {
				want = storedVisa()
				if tt.change != nil {
					tt.change(want)
				}
			}
			if !proto.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
			if got.GetNumber() != "" || got.GetSecurityCode() != "" {
				t.Error("the edited card holds a number or security code")
			}
			if !proto.Equal(stored, before) {
				t.Error("ValidateEdit changed the stored card")
			}
			if got.Address != nil && got.Address == stored.Address {
				t.Error("the edited card shares its address with the stored one")
			}
		})
	}
}

// assertNoSecret fails when s holds the number, any 6-digit run of it, or
// the security code.
func assertNoSecret(t *testing.T, what, s, number, code string) {
	t.Helper()
	for i := 0; i+6 <= len(number); i++ {
		if strings.Contains(s, number[i:i+6]) {
			t.Errorf("%s %q holds digits %s of the number", what, s, number[i:i+6])
			return
		}
	}
	if code != "" && strings.Contains(s, code) {
		t.Errorf("%s %q holds the security code", what, s)
	}
}

// TestErrorsNeverHoldSecrets runs failing validations on several numbers and
// checks that no error text or metadata holds the number or security code.
func TestErrorsNeverHoldSecrets(t *testing.T) {
	numbers := []string{visa, amex, "5555555555554444", "4000000000000002", "4242424242424241", withCheck("9", 20), "6011111111111117"}
	for _, n := range numbers {
		spaced := n[:4] + " " + n[4:]
		inputs := []*billingv1.Card{
			card(n, "987", 12, 2028),     // may pass or fail on number or code
			card(n, "98765", 12, 2028),   // bad code
			card(n, "987", 13, 2028),     // bad month
			card(n, "987", 12, 2020),     // expired
			card(n+"x", "987", 12, 2028), // letters
			card(spaced, "9876", 12, 2028),
			card(n[:len(n)-3], "987", 12, 2028), // too short or bad Luhn
			{Number: proto.String(n), SecurityCode: proto.String("987"), ExpMonth: 12, ExpYear: 2028}, // no holder
		}
		for _, c := range inputs {
			_, err := ValidateNew(c, now)
			checkErrSecrets(t, err, n, c.GetSecurityCode())
		}
		for _, edit := range []*billingv1.Card{
			{Number: proto.String(n), SecurityCode: proto.String("987")},
			{Number: proto.String(n + "x"), SecurityCode: proto.String("987")},
			{Number: proto.String(n), SecurityCode: proto.String("98")},
		} {
			_, err := ValidateEdit(storedVisa(), edit, now)
			checkErrSecrets(t, err, n, edit.GetSecurityCode())
		}
		_, err := ValidateUnionPay(&billingv1.UnionPay{Number: proto.String(n)})
		checkErrSecrets(t, err, n, "")
		_, err = Normalize(n + "!")
		checkErrSecrets(t, err, n, "")
	}
}

func checkErrSecrets(t *testing.T, err error, number, code string) {
	t.Helper()
	if err == nil {
		return
	}
	assertNoSecret(t, "error", err.Error(), number, code)
	var e *errs.Error
	if errors.As(err, &e) {
		for k, v := range e.Metadata {
			assertNoSecret(t, "metadata "+k, v, number, code)
		}
	}
}
