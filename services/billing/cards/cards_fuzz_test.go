package cards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

// fuzzNow is mid-May 2026, UTC: cards of May 2026 and later are current.
var fuzzNow = time.Date(2026, time.May, 15, 12, 0, 0, 0, time.UTC)

// The oracles below restate API.md §4 and the published IIN ranges apart
// from the package's tables, so that a fuzzer finds where the two disagree.

// refDigits strips spaces and hyphens and reports whether only ASCII digits
// are left.
func refDigits(number string) (string, bool) {
	d := strings.NewReplacer(" ", "", "-", "").Replace(number)
	for _, c := range []byte(d) {
		if c < '0' || c > '9' {
			return d, false
		}
	}
	return d, true
}

// refLuhn doubles every second digit from the right with a lookup table.
func refLuhn(d string) bool {
	if d == "" {
		return false
	}
	doubled := [10]int{0, 2, 4, 6, 8, 1, 3, 5, 7, 9}
	sum := 0
	for i := range len(d) {
		c := d[len(d)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		if i%2 == 1 {
			sum += doubled[c-'0']
		} else {
			sum += int(c - '0')
		}
	}
	return sum%10 == 0
}

// refBrand reads the IIN as integers of 1 to 4 leading digits.
func refBrand(d string) billingv1.Card_Brand {
	p := func(n int) int {
		if len(d) < n {
			return -1
		}
		v, err := strconv.Atoi(d[:n])
		if err != nil || strings.ContainsAny(d[:n], "+-") {
			return -1
		}
		return v
	}
	in := func(n, lo, hi int) bool { v := p(n); return v >= lo && v <= hi }
	switch {
	case p(1) == 4:
		return billingv1.Card_VISA
	case in(2, 51, 55), in(4, 2221, 2720):
		return billingv1.Card_MASTERCARD
	case p(2) == 34, p(2) == 37:
		return billingv1.Card_AMERICAN_EXPRESS
	case p(4) == 6011, in(3, 644, 649), p(2) == 65:
		return billingv1.Card_DISCOVER
	case in(4, 3528, 3589):
		return billingv1.Card_JCB
	case in(3, 300, 305), p(2) == 36, in(2, 38, 39):
		return billingv1.Card_DINERS_CLUB
	case p(2) == 62, p(2) == 81:
		return billingv1.Card_UNIONPAY
	case p(2) == 50, in(2, 56, 58), p(4) == 6304, p(4) == 6759, in(4, 6761, 6763):
		return billingv1.Card_MAESTRO
	}
	return billingv1.Card_OTHER
}

// refLength is the set of lengths each brand issues.
func refLength(b billingv1.Card_Brand, n int) bool {
	switch b {
	case billingv1.Card_VISA:
		return n == 13 || n == 16 || n == 19
	case billingv1.Card_MASTERCARD:
		return n == 16
	case billingv1.Card_AMERICAN_EXPRESS:
		return n == 15
	case billingv1.Card_DISCOVER, billingv1.Card_JCB, billingv1.Card_UNIONPAY:
		return n >= 16 && n <= 19
	case billingv1.Card_DINERS_CLUB:
		return n >= 14 && n <= 19
	case billingv1.Card_MAESTRO, billingv1.Card_OTHER:
		return n >= 12 && n <= 19
	}
	return false
}

func refNumberOK(d string) bool {
	return len(d) >= 12 && len(d) <= 19 && refLuhn(d) && refLength(refBrand(d), len(d))
}

func refCodeOK(code string, b billingv1.Card_Brand) bool {
	n := 3
	if b == billingv1.Card_AMERICAN_EXPRESS {
		n = 4
	}
	_, digits := refDigits(code)
	return len(code) == n && digits && !strings.ContainsAny(code, " -")
}

// refExpiryOK: the card works until the last instant of its month, in UTC.
func refExpiryOK(month, year int32) bool {
	if month < 1 || month > 12 || year < 1000 || year > 9999 {
		return false
	}
	y, m := fuzzNow.UTC().Year(), int32(fuzzNow.UTC().Month())
	return int(year) > y || int(year) == y && month >= m
}

func refHolderOK(name string) bool {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxHolderName {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

func refCountryOK(cc string) bool {
	return cc == "" || len(cc) == 2 && strings.Trim(cc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

// withCheckDigit replaces the last character of number, when it is a digit,
// with the digit that makes the whole number pass Luhn, so that the fuzzer
// reaches valid numbers as often as invalid ones.
func withCheckDigit(number string) string {
	if number == "" || number[len(number)-1] < '0' || number[len(number)-1] > '9' {
		return number
	}
	d, ok := refDigits(number)
	if !ok {
		return number
	}
	for c := byte('0'); c <= '9'; c++ {
		if refLuhn(d[:len(d)-1] + string(c)) {
			return number[:len(number)-1] + string(c)
		}
	}
	panic("no check digit")
}

// otherDigits maps every ASCII digit of s to the next one, keeping the rest:
// a security code of the same shape, valid exactly when s is.
func otherDigits(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= '0' && c <= '9' {
			b[i] = '0' + (c-'0'+1)%10
		}
	}
	return string(b)
}

// renderings are the ways a Checked may end up printed: every fmt verb, both
// slog handlers, encoding/json, and Stored in proto text and JSON.
func renderings(t *testing.T, c Checked) []string {
	t.Helper()
	out := printed(c, &c, []Checked{c}, struct{ C Checked }{c})
	out = append(out, c.String(), c.GoString(), c.LogValue().String())
	var buf bytes.Buffer
	noTime := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}
	slog.New(slog.NewTextHandler(&buf, noTime)).Info("card", "card", c, "ptr", &c)
	slog.New(slog.NewJSONHandler(&buf, noTime)).Info("card", "card", c, "ptr", &c)
	out = append(out, buf.String())
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	out = append(out, string(js))
	stored := Stored(c)
	if stored.GetNumber() != "" || stored.GetSecurityCode() != "" {
		t.Fatalf("Stored kept the number or security code: %v", stored)
	}
	pj, err := protojson.Marshal(stored)
	if err != nil {
		t.Fatalf("protojson: %v", err)
	}
	return append(out, string(pj), fmt.Sprint(stored))
}

// printed is vs under every fmt verb.
func printed(vs ...any) []string {
	var out []string
	for _, v := range vs {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%t", "%c", "%U", "%e", "%10.4v", "%T"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
	}
	return out
}

// checkNoSecretInError: an error holds no 6 digits in a row of the number,
// in its text or its metadata.
func checkNoSecretInError(t *testing.T, err error, digits string) {
	t.Helper()
	if err == nil {
		return
	}
	texts := []string{err.Error()}
	var e *errs.Error
	if errors.As(err, &e) {
		texts = append(texts, e.Message)
		for k, v := range e.Metadata {
			texts = append(texts, k, v)
		}
	}
	for i := 0; i+6 <= len(digits); i++ {
		for _, s := range texts {
			if strings.Contains(s, digits[i:i+6]) {
				t.Fatalf("error %q holds digits %s of the number", s, digits[i:i+6])
			}
		}
	}
}

// sameError: two errors that must not differ (they differ only in a secret).
func sameError(t *testing.T, a, b error) {
	t.Helper()
	if (a == nil) != (b == nil) {
		t.Fatalf("the security code's digits changed the outcome: %v vs %v", a, b)
	}
	if a == nil {
		return
	}
	var ea, eb *errs.Error
	if !errors.As(a, &ea) || !errors.As(b, &eb) {
		t.Fatalf("errors %T %T, want *errs.Error", a, b)
	}
	if ea.Error() != eb.Error() || !maps.Equal(ea.Metadata, eb.Metadata) {
		t.Fatalf("the error depends on the security code's digits: %v %v vs %v %v", ea, ea.Metadata, eb, eb.Metadata)
	}
}

// FuzzValidateNew: ValidateNew never panics; it accepts a card exactly when
// the oracles above do; what it accepts is 12 to 19 digits passing Luhn and
// its brand's lengths, with its brand and last 4; and neither its errors nor
// any rendering of the Checked (fmt, slog, JSON, Stored) depend on the
// number or the security code beyond the brand and last 4.
func FuzzValidateNew(f *testing.F) {
	for _, s := range []struct {
		number, code   string
		month, year    int32
		holder, cc     string
		address, check bool
	}{
		{"4242424242424242", "123", 12, 2028, "Ada Lovelace", "", false, false},
		{"4242 4242 4242 4242", "123", 5, 2026, " Ada ", "GB", true, false},
		{"4242-4242-4242-4242", "123", 4, 2026, "Ada", "", false, false},
		{"378282246310005", "1234", 7, 2030, "Grace Hopper", "US", true, false},
		{"378282246310005", "123", 7, 2030, "Grace", "", false, false},
		{"5555555555554444", "987", 1, 9999, "李雷", "CN", true, false},
		{"2221000000000009", "000", 12, 2026, "Zoë", "", false, false},
		{"6011111111111117", "999", 6, 2026, strings.Repeat("é", 200), "", false, false},
		{"36000000000008", "321", 1, 2027, "D", "", false, false},
		{"6759000000005", "111", 2, 2031, "M", "", false, true},
		{"900000000000", "222", 3, 2032, "Other", "", false, true},
		{"4000000000000002", "123", 12, 2028, "Declined", "", false, false},
		{"4242424242424241", "123", 12, 2028, "Bad Luhn", "", false, false},
		{"4242424242424241", "123", 12, 2028, "Fixed Luhn", "", false, true},
		{"42424242424", "123", 12, 2028, "11 digits", "", false, true},
		{"42424242424242424242", "123", 12, 2028, "20 digits", "", false, true},
		{"4" + strings.Repeat("0", 1000), "123", 12, 2028, "huge", "", false, true},
		{"", "", 0, 0, "", "", false, false},
		{" - ", "123", 12, 2028, "Ada", "", false, false},
		{"4242\x004242424242424242", "123", 12, 2028, "Ada", "", false, false},
		{"４２４２４２４２４２４２４２４２", "123", 12, 2028, "Ada", "", false, false},
		{"4242424242424242\n", "123", 12, 2028, "Ada", "", false, false},
		{"+4242424242424242", "123", 12, 2028, "Ada", "", false, false},
		{"4242424242424242", "12\x00", 12, 2028, "Ada", "", false, false},
		{"4242424242424242", "१२३", 12, 2028, "Ada", "", false, false},
		{"4242424242424242", " 12", 12, 2028, "Ada", "", false, false},
		{"4242424242424242", "1-3", 12, 2028, "Ada", "", false, false},
		{"4242424242424242", "202", 12, 2028, "Ada", "", false, false},
		{"4242424242424242", "424", 12, 2028, "4242424242424242", "", false, false},
		{"4242424242424242", "123", 0, 2028, "Ada", "", false, false},
		{"4242424242424242", "123", 13, 2028, "Ada", "", false, false},
		{"4242424242424242", "123", -1, -1, "Ada", "", false, false},
		{"4242424242424242", "123", 2147483647, 2147483647, "Ada", "", false, false},
		{"4242424242424242", "123", 12, 28, "Ada", "", false, false},
		{"4242424242424242", "123", 12, 20280, "Ada", "", false, false},
		{"4242424242424242", "123", 12, 2025, "Ada", "", false, false},
		{"4242424242424242", "123", 12, -2147483648, "Ada", "", false, false},
		{"4242424242424242", "123", 12, 2028, "Ada\nLovelace", "", false, false},
		{"4242424242424242", "123", 12, 2028, "Ada\u2028", "", false, false},
		{"4242424242424242", "123", 12, 2028, "Ada\u200b\u202e", "", false, false},
		{"4242424242424242", "123", 12, 2028, "Ada\xff", "", false, false},
		{"4242424242424242", "123", 12, 2028, "\u00a0\u3000", "", false, false},
		{"4242424242424242", "123", 12, 2028, strings.Repeat("é", 201), "", false, false},
		{"4242424242424242", "123", 12, 2028, "Ada", "fr", true, false},
		{"4242424242424242", "123", 12, 2028, "Ada", "FRA", true, false},
		{"4242424242424242", "123", 12, 2028, "Ada", "Ü1", true, false},
		{"4242424242424242", "123", 12, 2028, "../../%00", "%0", true, false},
		{"6200 0000 0000 0005", "123", 12, 2028, "alice@example.com", "CN", true, false},
		{"8171000000000000", "123", 12, 2028, "+8613812341234", "", false, true},
	} {
		f.Add(s.number, s.code, s.month, s.year, s.holder, s.cc, s.address, s.check)
	}
	f.Fuzz(func(t *testing.T, number, code string, month, year int32, holder, cc string, address, check bool) {
		if len(number) > 4096 || len(code) > 64 || len(holder) > 4096 || len(cc) > 64 {
			return
		}
		if check {
			number = withCheckDigit(number)
		}
		in := &billingv1.Card{Number: proto.String(number), SecurityCode: proto.String(code), ExpMonth: month, ExpYear: year, HolderName: holder}
		if address {
			in.Address = &billingv1.Address{CountryCode: cc, City: holder}
		}
		before := proto.Clone(in)
		got, err := ValidateNew(in, fuzzNow)
		if !proto.Equal(in, before) {
			t.Fatal("ValidateNew changed its input")
		}

		digits, onlyDigits := refDigits(number)
		want := onlyDigits && refNumberOK(digits) && refExpiryOK(month, year) &&
			refCodeOK(code, refBrand(digits)) && refHolderOK(holder) && (!address || refCountryOK(cc))
		if (err == nil) != want {
			t.Fatalf("ValidateNew(%q, %q, %d/%d, %q, %q) err = %v, the oracle says valid = %v", number, code, month, year, holder, cc, err, want)
		}
		checkNoSecretInError(t, err, digits)
		checkOtherMethods(t, number, holder)
		_, alt := ValidateNew(&billingv1.Card{Number: proto.String(number), SecurityCode: proto.String(otherDigits(code)), ExpMonth: month, ExpYear: year, HolderName: holder, Address: in.Address}, fuzzNow)
		sameError(t, err, alt)

		if err != nil {
			if r := errs.ReasonOf(err); r != errs.InvalidCard.Name && r != errs.InvalidField.Name {
				t.Fatalf("reason %s: %v", r, err)
			}
			if got != (Checked{}) {
				t.Fatalf("Checked %v with error %v", got, err)
			}
			return
		}

		n := len(got.Number)
		switch {
		case got.Number != digits:
			t.Fatalf("Number %q, want %q", got.Number, digits)
		case n < MinDigits || n > MaxDigits || !Luhn(got.Number) || !refLuhn(got.Number):
			t.Fatalf("accepted %q", got.Number)
		case got.Brand != refBrand(digits) || !ValidLength(got.Brand, n) || !refLength(got.Brand, n):
			t.Fatalf("accepted %q as %s", got.Number, got.Brand)
		case got.Last4 != digits[n-4:]:
			t.Fatalf("last4 %q of %q", got.Last4, digits)
		case got.SecurityCode != code || len(code) != SecurityCodeLength(got.Brand):
			t.Fatalf("security code %q for %s", got.SecurityCode, got.Brand)
		case got.ExpMonth != month || got.ExpYear != year:
			t.Fatalf("expiry %d/%d", got.ExpMonth, got.ExpYear)
		case got.HolderName != strings.TrimSpace(holder):
			t.Fatalf("holder %q", got.HolderName)
		case !proto.Equal(got.Address, in.Address) || got.Address != nil && got.Address == in.Address:
			t.Fatalf("address %v, not a copy of %v", got.Address, in.Address)
		}

		// Every rendering is that of the same card without its secrets.
		blank := got
		blank.Number, blank.SecurityCode = "", ""
		shown, hidden := renderings(t, got), renderings(t, blank)
		for i := range shown {
			if shown[i] != hidden[i] {
				t.Fatalf("a rendering shows the number or security code:\n%s\nwithout them:\n%s", shown[i], hidden[i])
			}
			if !strings.Contains(holder, digits) && strings.Contains(shown[i], digits) {
				t.Fatalf("a rendering holds the number: %s", shown[i])
			}
		}
	})
}

// checkOtherMethods: the number as a UnionPay card and the holder as an
// Alipay login print the same with their secrets as without.
func checkOtherMethods(t *testing.T, number, login string) {
	t.Helper()
	if u, err := ValidateUnionPay(&billingv1.UnionPay{Number: proto.String(number)}); err == nil {
		blank := u
		blank.Number = ""
		shown, hidden := printed(u, &u, []CheckedUnionPay{u}), printed(blank, &blank, []CheckedUnionPay{blank})
		for i := range shown {
			if shown[i] != hidden[i] || strings.Contains(shown[i], u.Number) {
				t.Fatalf("a UnionPay rendering shows the number: %s", shown[i])
			}
		}
	}
	if a, err := ValidateAlipay(&billingv1.Alipay{LoginId: proto.String(login)}); err == nil {
		blank := a
		blank.Login = ""
		shown, hidden := printed(a, &a, []CheckedAlipay{a}), printed(blank, &blank, []CheckedAlipay{blank})
		for i := range shown {
			if shown[i] != hidden[i] {
				t.Fatalf("an Alipay rendering shows the login: %s", shown[i])
			}
		}
	}
}

// FuzzLuhnBrand: Luhn, Brand, ValidLength, Normalize and the security code
// length never panic and agree with the oracles above; every string of 11 to
// 18 digits has exactly one Luhn check digit.
func FuzzLuhnBrand(f *testing.F) {
	for _, s := range []string{
		"", "0", "00", "4", "4242424242424242", "4242424242424241", "378282246310005", "5555555555554444",
		"2221000000000009", "2720999999999996", "2721000000000004", "2220999999999999", "6011111111111117",
		"6440000000000000", "6500000000000000", "3528000000000000", "3589000000000000", "3590000000000000",
		"30000000000004", "30500000000003", "30600000000000", "36000000000008", "38000000000006", "6200000000000005",
		"8100000000000000", "5000000000000000", "5600000000000000", "5800000000000000", "6304000000000000",
		"6759000000000000", "6761000000000000", "6763000000000000", "6764000000000000",
		"4242 4242 4242 4242", "4242-4242-4242-4242", " - ", "-4", "+4", "4x", "x4", "62\x00", "\xff", "४२४२",
		"５５５５", strings.Repeat("9", 19), strings.Repeat("9", 20), strings.Repeat("0", 10000), "3 4", "3-7",
		"18446744073709551616", "999999999999999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1<<14 {
			return
		}
		if got, want := Luhn(s), refLuhn(s); got != want {
			t.Fatalf("Luhn(%q) = %v, want %v", s, got, want)
		}
		d, onlyDigits := refDigits(s)
		if got, want := Brand(s), refBrand(d); got != want {
			t.Fatalf("Brand(%q) = %s, want %s", s, got, want)
		}
		if Brand(s) != Brand(d) {
			t.Fatalf("Brand(%q) changes without its separators", s)
		}
		for n := -1; n <= 21; n++ {
			if got, want := ValidLength(Brand(s), n), refLength(Brand(s), n); got != want {
				t.Fatalf("ValidLength(%s, %d) = %v, want %v", Brand(s), n, got, want)
			}
		}
		if n := SecurityCodeLength(Brand(s)); n != 3 && n != 4 || (n == 4) != (Brand(s) == billingv1.Card_AMERICAN_EXPRESS) {
			t.Fatalf("SecurityCodeLength(%s) = %d", Brand(s), n)
		}

		norm, err := Normalize(s)
		switch {
		case onlyDigits && (err != nil || norm != d):
			t.Fatalf("Normalize(%q) = %q, %v; want %q", s, norm, err, d)
		case !onlyDigits:
			var e *errs.Error
			if !errors.As(err, &e) || e.Reason != errs.InvalidCard || e.Metadata["field"] != "card.number" || norm != "" {
				t.Fatalf("Normalize(%q) = %q, %v; want INVALID_CARD on card.number", s, norm, err)
			}
			checkNoSecretInError(t, err, d)
		}

		if onlyDigits && len(d) >= MinDigits-1 && len(d) <= MaxDigits-1 {
			var checks []byte
			for c := byte('0'); c <= '9'; c++ {
				if Luhn(d + string(c)) {
					checks = append(checks, c)
				}
			}
			if len(checks) != 1 {
				t.Fatalf("%q has check digits %q, want exactly one", d, checks)
			}
		}
		if last := d[max(0, len(d)-4):]; !strings.HasSuffix(Masked(last), " "+last) {
			t.Fatalf("Masked(%q) = %q", last, Masked(last))
		}
	})
}

// FuzzValidateEdit: ValidateEdit never panics and never changes the brand or
// the last 4 digits: an edit is accepted only with the stored brand's
// security code and, when it names a number, the stored card's own (same
// brand and last 4, 12 to 19 digits, Luhn); the result holds no number or
// security code, shares nothing with its inputs, and leaves the stored card
// as it was. Errors do not depend on the security code's digits nor hold the
// number.
func FuzzValidateEdit(f *testing.F) {
	for _, s := range []struct {
		brand                     uint8
		last4                     string
		sMonth, sYear             int32
		number, code              string
		month, year               int32
		holder, cc                string
		address, check, editIsNil bool
	}{
		{1, "4242", 12, 2027, "", "123", 0, 0, "", "", false, false, false},
		{1, "4242", 12, 2027, "4242 4242 4242 4242", "123", 3, 2031, " Grace ", "FR", true, false, false},
		{1, "4242", 12, 2027, "5555555555554242", "123", 0, 0, "", "", false, true, false},
		{1, "4242", 12, 2027, "4000056655665556", "123", 0, 0, "", "", false, false, false},
		{1, "4242", 12, 2027, "4242424242414242", "123", 0, 0, "", "", false, false, false},
		{1, "4242", 12, 2027, "4242424242414242", "123", 0, 0, "", "", false, true, false},
		{1, "4242", 12, 2027, "4242", "123", 0, 0, "", "", false, true, false},
		{1, "4242", 12, 2027, " - ", "123", 0, 0, "", "", false, false, false},
		{1, "4242", 12, 2027, "4242x", "123", 0, 0, "", "", false, false, false},
		{1, "4242", 12, 2027, "", "", 0, 2030, "", "", false, false, false},
		{1, "4242", 12, 2027, "", "", 0, 0, "", "", false, false, true},
		{1, "4242", 12, 2027, "", "1234", 0, 0, "", "", false, false, false},
		{3, "0005", 1, 2029, "", "1234", 0, 2031, "", "", false, false, false},
		{3, "0005", 1, 2029, "378282246310005", "1234", 0, 0, "", "", false, false, false},
		{3, "0005", 1, 2029, "", "123", 0, 0, "", "", false, false, false},
		{1, "4242", 1, 2026, "", "123", 0, 0, "Ada L", "", false, false, false},
		{1, "4242", 1, 2026, "", "123", 5, 2026, "", "", false, false, false},
		{1, "4242", 12, 2027, "", "123", 4, 2026, "", "", false, false, false},
		{1, "4242", 12, 2027, "", "123", 13, 0, "", "", false, false, false},
		{1, "4242", 12, 2027, "", "123", -5, 99, "", "", false, false, false},
		{1, "4242", 12, 2027, "", "123", 0, 0, "   ", "", false, false, false},
		{1, "4242", 12, 2027, "", "123", 0, 0, "Grace\x07", "", false, false, false},
		{1, "4242", 12, 2027, "", "123", 0, 0, "", "france", true, false, false},
		{0, "", 0, 0, "", "123", 0, 0, "", "", false, false, false},
		{9, "", 0, 0, "0000", "123", 12, 2030, "", "", false, false, false},
		{255, "42", 12, 2027, "42", "123", 0, 0, "", "", false, true, false},
		{1, "\x00\xff", 12, 2027, "\x00\xff", "\x00\xff", 0, 0, "\x00", "\xff", true, false, false},
		{7, "0005", 12, 2027, "6200 0000 0000 0005", "123", 0, 0, "李雷", "CN", true, false, false},
		{1, "4242", 12, 2027, "4" + strings.Repeat("0", 2000) + "4242", "123", 0, 0, "", "", false, true, false},
	} {
		f.Add(s.brand, s.last4, s.sMonth, s.sYear, s.number, s.code, s.month, s.year, s.holder, s.cc, s.address, s.check, s.editIsNil)
	}
	f.Fuzz(func(t *testing.T, brand uint8, last4 string, sMonth, sYear int32, number, code string, month, year int32, holder, cc string, address, check, editIsNil bool) {
		if len(last4) > 64 || len(number) > 4096 || len(code) > 64 || len(holder) > 4096 || len(cc) > 64 {
			return
		}
		if check {
			number = withCheckDigit(number)
		}
		var stored *billingv1.Card
		if brand != 255 { // 255: the payment method is not a card
			stored = &billingv1.Card{
				Brand: billingv1.Card_Brand(brand % 10), Last4: last4, ExpMonth: sMonth, ExpYear: sYear,
				HolderName: "Ada Lovelace", Address: &billingv1.Address{CountryCode: "GB", City: "London"},
			}
		}
		var edit *billingv1.Card
		if !editIsNil {
			edit = &billingv1.Card{Number: proto.String(number), SecurityCode: proto.String(code), ExpMonth: month, ExpYear: year, HolderName: holder,
				// Output-only fields a client may send: ignored.
				Brand: billingv1.Card_JCB, Last4: "0000"}
			if address {
				edit.Address = &billingv1.Address{CountryCode: cc, City: holder}
			}
		}
		storedBefore, editBefore := proto.Clone(stored), proto.Clone(edit)
		got, err := ValidateEdit(stored, edit, fuzzNow)
		if !proto.Equal(stored, storedBefore) || !proto.Equal(edit, editBefore) {
			t.Fatal("ValidateEdit changed its inputs")
		}
		digits, _ := refDigits(number)
		checkNoSecretInError(t, err, digits)
		if edit != nil {
			alt := proto.Clone(edit).(*billingv1.Card)
			alt.SecurityCode = proto.String(otherDigits(code))
			_, altErr := ValidateEdit(stored, alt, fuzzNow)
			sameError(t, err, altErr)
		}

		if err != nil {
			switch r := errs.ReasonOf(err); r {
			case errs.InvalidCard.Name, errs.InvalidField.Name, errs.SecurityCodeRequired.Name:
			default:
				t.Fatalf("reason %s: %v", r, err)
			}
			if got != nil {
				t.Fatalf("got %v with error %v", got, err)
			}
			if stored != nil && edit.GetSecurityCode() == "" && errs.ReasonOf(err) != errs.SecurityCodeRequired.Name {
				t.Fatalf("no security code gave %v", err)
			}
			return
		}

		switch {
		case stored == nil:
			t.Fatal("edited a payment method that is not a card")
		case got.GetBrand() != stored.GetBrand() || got.GetLast4() != stored.GetLast4():
			t.Fatalf("the edit changed the card from %s %q to %s %q", stored.GetBrand(), stored.GetLast4(), got.GetBrand(), got.GetLast4())
		case got.GetNumber() != "" || got.GetSecurityCode() != "":
			t.Fatalf("the edited card holds a number or security code: %v", got)
		case !refCodeOK(code, stored.GetBrand()):
			t.Fatalf("security code %q accepted for %s", code, stored.GetBrand())
		case !refExpiryOK(got.GetExpMonth(), got.GetExpYear()):
			t.Fatalf("expiry %d/%d accepted", got.GetExpMonth(), got.GetExpYear())
		case month != 0 && got.GetExpMonth() != month, month == 0 && got.GetExpMonth() != sMonth,
			year != 0 && got.GetExpYear() != year, year == 0 && got.GetExpYear() != sYear:
			t.Fatalf("expiry %d/%d from stored %d/%d and edit %d/%d", got.GetExpMonth(), got.GetExpYear(), sMonth, sYear, month, year)
		case holder != "" && (!refHolderOK(holder) || got.GetHolderName() != strings.TrimSpace(holder)),
			holder == "" && got.GetHolderName() != stored.GetHolderName():
			t.Fatalf("holder %q from %q", got.GetHolderName(), holder)
		case got.GetAddress() != nil && (got.GetAddress() == stored.GetAddress() || got.GetAddress() == edit.GetAddress()):
			t.Fatal("the edited card shares its address")
		case address && (!refCountryOK(cc) || !proto.Equal(got.GetAddress(), edit.GetAddress())),
			!address && !proto.Equal(got.GetAddress(), stored.GetAddress()):
			t.Fatalf("address %v", got.GetAddress())
		}
		if number != "" {
			d, ok := refDigits(number)
			if !ok || !refNumberOK(d) || refBrand(d) != stored.GetBrand() || d[len(d)-4:] != stored.GetLast4() {
				t.Fatalf("accepted number %q for stored %s %q", number, stored.GetBrand(), stored.GetLast4())
			}
		}
	})
}
