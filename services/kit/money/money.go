// Package money holds amounts as integer minor units of an ISO 4217 currency,
// and splits them so that the parts always add up to the whole.
//
// Floats never appear: a cent lost to rounding in a proration or a refund is
// a cent an invoice cannot explain. Every division goes through Split, whose
// largest-remainder rule hands out the leftover units one by one, so a credit
// and the charge it reverses, or thirty daily shares of a month, sum exactly.
package money

import (
	"errors"
	"fmt"
	"strconv"
)

// Errors are plain sentinels, wrapped with details; the service that calls
// maps them to its own codes.
var (
	ErrMalformedCurrency = errors.New("money: malformed currency code")
	ErrUnknownCurrency   = errors.New("money: unknown currency code")
	ErrCurrencyMismatch  = errors.New("money: currencies differ")
	ErrOverflow          = errors.New("money: amount overflows int64")
	ErrInvalidSplit      = errors.New("money: invalid split")
	ErrInvalidPeriod     = errors.New("money: invalid proration period")
)

// Amount is a number of minor units (cents, öre, yen, fils) of a currency
// named by its ISO 4217 code.
type Amount struct {
	Minor    int64
	Currency string
}

// String renders the amount with the currency's exponent and its code, with
// no grouping, for logs and errors: "12.50 EUR", "1250 JPY", "1.250 KWD",
// "-3.00 USD". An unknown currency shows the raw minor units.
func (a Amount) String() string {
	cur, err := Lookup(a.Currency)
	if err != nil {
		return strconv.FormatInt(a.Minor, 10) + " " + a.Currency
	}
	neg, intPart, frac := digits(a.Minor, cur.Exponent)
	s := intPart
	if frac != "" {
		s += "." + frac
	}
	if neg {
		s = "-" + s
	}
	return s + " " + cur.Code
}

// Add sums two amounts of the same currency.
func (a Amount) Add(b Amount) (Amount, error) {
	if a.Currency != b.Currency {
		return Amount{}, fmt.Errorf("%w: %s and %s", ErrCurrencyMismatch, a.Currency, b.Currency)
	}
	s := a.Minor + b.Minor
	// Signed overflow happened iff both operands share a sign the sum lacks.
	if (a.Minor >= 0) == (b.Minor >= 0) && (s >= 0) != (a.Minor >= 0) {
		return Amount{}, fmt.Errorf("%w: %d + %d", ErrOverflow, a.Minor, b.Minor)
	}
	return Amount{Minor: s, Currency: a.Currency}, nil
}

// Neg is the amount with its sign flipped, as a credit reverses a charge.
func (a Amount) Neg() (Amount, error) {
	if a.Minor == minInt64 {
		return Amount{}, fmt.Errorf("%w: -(%d)", ErrOverflow, a.Minor)
	}
	return Amount{Minor: -a.Minor, Currency: a.Currency}, nil
}

const minInt64 = -1 << 63

// magnitude is |v| as an unsigned number, exact even for the most negative
// int64.
func magnitude(v int64) uint64 {
	if v < 0 {
		return -uint64(v)
	}
	return uint64(v)
}

// digits splits minor units into a sign, the integer digits and exp
// fractional digits, zero-padded: (-5, 2) gives true, "0", "05".
func digits(minor int64, exp int) (neg bool, intPart, frac string) {
	if exp < 0 {
		exp = 0
	}
	s := strconv.FormatUint(magnitude(minor), 10)
	for len(s) <= exp {
		s = "0" + s
	}
	return minor < 0, s[:len(s)-exp], s[len(s)-exp:]
}
