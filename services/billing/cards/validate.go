package cards

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

// MaxHolderName is the longest holder name, in characters.
const MaxHolderName = 200

// Checked is a new card that passed ValidateNew. Number and SecurityCode are
// for the payment processor only, to register the card once: they must never
// be stored, logged or answered. Stored gives what may be kept.
type Checked struct {
	Number       string `json:"-"` // digits only
	SecurityCode string `json:"-"`
	Brand        billingv1.Card_Brand
	Last4        string
	ExpMonth     int32
	ExpYear      int32
	HolderName   string             // trimmed
	Address      *billingv1.Address // a copy of the request's, or nil
}

// String shows the card without its number or security code, so that a
// Checked printed by mistake leaks nothing.
func (c Checked) String() string {
	return fmt.Sprintf("%s %s %02d/%04d", c.Brand, Masked(c.Last4), c.ExpMonth, c.ExpYear)
}

// GoString is String, for %#v.
func (c Checked) GoString() string { return c.String() }

// Format prints String whatever the verb: without it, a verb that is not for
// strings (%d, %t, %o…) would print the fields one by one, number and
// security code included.
func (c Checked) Format(f fmt.State, verb rune) { formatSafe(f, verb, c.String()) }

// LogValue is String, for log/slog.
func (c Checked) LogValue() slog.Value { return slog.StringValue(c.String()) }

// ValidateNew checks a card being added (API.md §4): the number (12 to 19
// digits, Luhn, a length valid for its brand), the expiry (not before the
// month of now, in UTC), the security code (3 digits, 4 for American
// Express), the holder name (required) and the address (optional).
func ValidateNew(c *billingv1.Card, now time.Time) (Checked, error) {
	if c == nil {
		return Checked{}, errs.New(errs.InvalidCard, "a card is required").With("field", "card")
	}
	number, err := Normalize(c.GetNumber())
	if err != nil {
		return Checked{}, err
	}
	brand := Brand(number)
	if err := checkNumber(number, brand, "card.number"); err != nil {
		return Checked{}, err
	}
	if err := checkExpiry(c.GetExpMonth(), c.GetExpYear(), now); err != nil {
		return Checked{}, err
	}
	if err := checkSecurityCode(c.GetSecurityCode(), brand); err != nil {
		return Checked{}, err
	}
	holder, err := checkHolderName(c.GetHolderName(), "card.holder_name", true)
	if err != nil {
		return Checked{}, err
	}
	address, err := checkAddress(c.GetAddress(), "card.address")
	if err != nil {
		return Checked{}, err
	}
	return Checked{
		Number:       number,
		SecurityCode: c.GetSecurityCode(),
		Brand:        brand,
		Last4:        last4(number),
		ExpMonth:     c.GetExpMonth(),
		ExpYear:      c.GetExpYear(),
		HolderName:   holder,
		Address:      address,
	}, nil
}

// Stored is all that is ever kept of a card: brand, last 4 digits, expiry,
// holder name and address.
func Stored(c Checked) *billingv1.Card {
	return &billingv1.Card{
		Brand:      c.Brand,
		Last4:      c.Last4,
		ExpMonth:   c.ExpMonth,
		ExpYear:    c.ExpYear,
		HolderName: c.HolderName,
		Address:    cloneAddress(c.Address),
	}
}

// ValidateEdit applies edit to a stored card (API.md §3: PATCH of a payment
// method) and returns the new stored view. The security code is required
// (SECURITY_CODE_REQUIRED) and checked against the stored brand; the number
// cannot change, so an edit.number is only accepted when it is the stored
// card's. Expiry, holder name and address change when given: a zero month or
// year keeps the stored one, an empty holder name or a nil address keeps the
// stored one. The resulting expiry must not be in the past.
func ValidateEdit(stored, edit *billingv1.Card, now time.Time) (*billingv1.Card, error) {
	if stored == nil {
		return nil, errs.New(errs.InvalidCard, "the payment method is not a card").With("field", "card")
	}
	if edit.GetSecurityCode() == "" {
		return nil, errs.New(errs.SecurityCodeRequired, "the security code is required to change a card").With("field", "card.security_code")
	}
	brand := stored.GetBrand()
	if err := checkSecurityCode(edit.GetSecurityCode(), brand); err != nil {
		return nil, err
	}
	if edit.GetNumber() != "" {
		number, err := Normalize(edit.GetNumber())
		if err != nil {
			return nil, err
		}
		if number == "" || last4(number) != stored.GetLast4() || Brand(number) != brand {
			return nil, errs.New(errs.InvalidCard, "the card number cannot change; add a new card").With("field", "card.number")
		}
		if err := checkNumber(number, brand, "card.number"); err != nil {
			return nil, err
		}
	}

	month, year := stored.GetExpMonth(), stored.GetExpYear()
	if edit.GetExpMonth() != 0 {
		month = edit.GetExpMonth()
	}
	if edit.GetExpYear() != 0 {
		year = edit.GetExpYear()
	}
	if err := checkExpiry(month, year, now); err != nil {
		return nil, err
	}

	holder := stored.GetHolderName()
	if edit.GetHolderName() != "" {
		h, err := checkHolderName(edit.GetHolderName(), "card.holder_name", true)
		if err != nil {
			return nil, err
		}
		holder = h
	}

	address := cloneAddress(stored.GetAddress())
	if edit.GetAddress() != nil {
		a, err := checkAddress(edit.GetAddress(), "card.address")
		if err != nil {
			return nil, err
		}
		address = a
	}

	return &billingv1.Card{
		Brand:      brand,
		Last4:      stored.GetLast4(),
		ExpMonth:   month,
		ExpYear:    year,
		HolderName: holder,
		Address:    address,
	}, nil
}

// checkNumber checks the length, Luhn and brand length of a normalized number.
func checkNumber(number string, brand billingv1.Card_Brand, field string) error {
	switch {
	case len(number) < MinDigits || len(number) > MaxDigits:
		return errs.New(errs.InvalidCard, "the card number must have %d to %d digits", MinDigits, MaxDigits).With("field", field)
	case !Luhn(number):
		return errs.New(errs.InvalidCard, "the card number is not valid").With("field", field)
	case !ValidLength(brand, len(number)):
		return errs.New(errs.InvalidCard, "the card number has %d digits, which is not valid for %s", len(number), brand).With("field", field)
	}
	return nil
}

// checkExpiry refuses a month out of 1 to 12, a year not of 4 digits, and an
// expiry before the month of now: a card is valid until the end of its month,
// in UTC.
func checkExpiry(month, year int32, now time.Time) error {
	if month < 1 || month > 12 {
		return errs.New(errs.InvalidCard, "the expiry month must be 1 to 12").With("field", "card.exp_month")
	}
	if year < 1000 || year > 9999 {
		return errs.New(errs.InvalidCard, "the expiry year must have 4 digits").With("field", "card.exp_year")
	}
	end := time.Date(int(year), time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC)
	if now.Before(end) {
		return nil
	}
	if int(year) < now.UTC().Year() {
		return errs.New(errs.InvalidCard, "the card has expired").With("field", "card.exp_year")
	}
	return errs.New(errs.InvalidCard, "the card has expired").With("field", "card.exp_month")
}

// checkSecurityCode wants exactly SecurityCodeLength(brand) digits.
func checkSecurityCode(code string, brand billingv1.Card_Brand) error {
	n := SecurityCodeLength(brand)
	if len(code) != n || !allDigits(code) {
		return errs.New(errs.InvalidCard, "the security code must have %d digits", n).With("field", "card.security_code")
	}
	return nil
}

// checkHolderName trims name and wants at most MaxHolderName characters,
// none of them a control character or line break.
func checkHolderName(name, field string, required bool) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "" && required:
		return "", errs.Field(field, "the holder name is required")
	case !utf8.ValidString(name):
		return "", errs.Field(field, "the holder name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxHolderName:
		return "", errs.Field(field, "the holder name must have at most %d characters", MaxHolderName)
	case strings.IndexFunc(name, isControl) >= 0:
		return "", errs.Field(field, "the holder name must not hold control characters")
	}
	return name, nil
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp)
}

// checkAddress returns a copy of an optional address whose country code, if
// any, is ISO 3166-1 alpha-2 (two uppercase letters).
func checkAddress(a *billingv1.Address, field string) (*billingv1.Address, error) {
	if a == nil {
		return nil, nil
	}
	if cc := a.GetCountryCode(); cc != "" && !isCountryCode(cc) {
		return nil, errs.Field(field+".country_code", "the country code must be two uppercase letters")
	}
	return cloneAddress(a), nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

func cloneAddress(a *billingv1.Address) *billingv1.Address {
	if a == nil {
		return nil
	}
	return proto.Clone(a).(*billingv1.Address)
}
