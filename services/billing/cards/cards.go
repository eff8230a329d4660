// Package cards holds the rules of payment methods (API.md §4 "Payment
// cards"): number normalization, the Luhn check, brand detection from the
// issuer identification number (IIN), lengths per brand, expiry, security
// codes, what may be kept, and which methods each cloud accepts.
//
// The package is pure: no gRPC, no store, no clock of its own (callers pass
// now). Its errors are *errs.Error values and never hold a card number, a
// security code or an Alipay login: at most the last 4 digits.
package cards

import (
	"fmt"
	"io"
	"strings"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

// The overall bounds of a card number, whatever its brand.
const (
	MinDigits = 12
	MaxDigits = 19
)

// Luhn reports whether digits, a string of ASCII digits only, passes the
// Luhn (mod 10) check. Anything else, including "", fails.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// iinRange is a range of issuer identification numbers: the first len(lo)
// digits of a number, read as an integer, within [lo, hi].
type iinRange struct {
	lo, hi string
	brand  billingv1.Card_Brand
}

// iinRanges are the prefixes of each brand. They do not overlap.
var iinRanges = []iinRange{
	{"4", "4", billingv1.Card_VISA},
	{"51", "55", billingv1.Card_MASTERCARD},
	{"2221", "2720", billingv1.Card_MASTERCARD},
	{"34", "34", billingv1.Card_AMERICAN_EXPRESS},
	{"37", "37", billingv1.Card_AMERICAN_EXPRESS},
	{"6011", "6011", billingv1.Card_DISCOVER},
	{"644", "649", billingv1.Card_DISCOVER},
	{"65", "65", billingv1.Card_DISCOVER},
	{"3528", "3589", billingv1.Card_JCB},
	{"300", "305", billingv1.Card_DINERS_CLUB},
	{"36", "36", billingv1.Card_DINERS_CLUB},
	{"38", "39", billingv1.Card_DINERS_CLUB},
	{"62", "62", billingv1.Card_UNIONPAY},
	{"81", "81", billingv1.Card_UNIONPAY},
	{"50", "50", billingv1.Card_MAESTRO},
	{"56", "58", billingv1.Card_MAESTRO},
	{"6304", "6304", billingv1.Card_MAESTRO},
	{"6759", "6759", billingv1.Card_MAESTRO},
	{"6761", "6763", billingv1.Card_MAESTRO},
}

// Brand detects the card network from the leading digits of number. Spaces
// and hyphens are ignored; a number matching no known range is OTHER.
func Brand(number string) billingv1.Card_Brand {
	digits := strip(number)
	for _, r := range iinRanges {
		if len(digits) < len(r.lo) {
			continue
		}
		// Same-length ASCII digit strings compare like the integers they spell.
		p := digits[:len(r.lo)]
		if allDigits(p) && p >= r.lo && p <= r.hi {
			return r.brand
		}
	}
	return billingv1.Card_OTHER
}

// lengths are the valid number lengths of each brand, as [min, max] runs.
var lengths = map[billingv1.Card_Brand][][2]int{
	billingv1.Card_VISA:             {{13, 13}, {16, 16}, {19, 19}},
	billingv1.Card_MASTERCARD:       {{16, 16}},
	billingv1.Card_AMERICAN_EXPRESS: {{15, 15}},
	billingv1.Card_DISCOVER:         {{16, 19}},
	billingv1.Card_JCB:              {{16, 19}},
	billingv1.Card_DINERS_CLUB:      {{14, 19}},
	billingv1.Card_UNIONPAY:         {{16, 19}},
	billingv1.Card_MAESTRO:          {{12, 19}},
	billingv1.Card_OTHER:            {{MinDigits, MaxDigits}},
}

// ValidLength reports whether a number of n digits is valid for brand,
// within the overall 12 to 19.
func ValidLength(brand billingv1.Card_Brand, n int) bool {
	if n < MinDigits || n > MaxDigits {
		return false
	}
	for _, run := range lengths[brand] {
		if n >= run[0] && n <= run[1] {
			return true
		}
	}
	return false
}

// SecurityCodeLength is the number of digits of brand's security code: 4 for
// American Express, 3 for every other.
func SecurityCodeLength(brand billingv1.Card_Brand) int {
	if brand == billingv1.Card_AMERICAN_EXPRESS {
		return 4
	}
	return 3
}

// Normalize strips the spaces and hyphens people type in card numbers. Any
// other character that is not an ASCII digit is INVALID_CARD on
// card.number. The length is not checked here.
func Normalize(number string) (string, error) {
	return normalize(number, "card.number")
}

func normalize(number, field string) (string, error) {
	digits := strip(number)
	if !allDigits(digits) {
		return "", errs.New(errs.InvalidCard, "the card number may hold only digits, spaces and hyphens").With("field", field)
	}
	return digits, nil
}

// Masked is how a card is shown: its last 4 digits behind dots.
func Masked(last4 string) string {
	return "•••• " + last4
}

// last4 of a string of digits at least 4 long.
func last4(digits string) string {
	if len(digits) < 4 {
		return digits
	}
	return digits[len(digits)-4:]
}

// formatSafe writes s, the safe rendering of a checked payment method, for
// any fmt verb: %#v as it is, any other verb as if s were the operand.
func formatSafe(f fmt.State, verb rune, s string) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, s)
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s)
}

func strip(s string) string {
	if !strings.ContainsAny(s, " -") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
