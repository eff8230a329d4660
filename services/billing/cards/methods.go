package cards

import (
	"fmt"
	"log/slog"
	"strings"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
)

// The kinds of payment method, as AllowedIn takes them.
const (
	MethodCard     = "card"
	MethodAlipay   = "alipay"
	MethodUnionPay = "union_pay"
	MethodInvoice  = "invoice"
)

// AllowedIn says whether an organization of cloud may pay by method (API.md
// §4): cards everywhere but CHINA_21VIANET; Alipay, UnionPay and invoice only
// there.
// A refusal is PAYMENT_METHOD_NOT_SUPPORTED with field payment_method.<method>.
// An unset cloud counts as GLOBAL.
func AllowedIn(cloud licensingv1.Organization_Cloud, method string) error {
	china := cloud == licensingv1.Organization_CHINA_21VIANET
	var allowed bool
	switch method {
	case MethodCard:
		allowed = !china
	case MethodAlipay, MethodUnionPay, MethodInvoice:
		allowed = china
	default:
		return errs.Field("payment_method", "the payment method must be a card, alipay, union_pay or invoice")
	}
	if allowed {
		return nil
	}
	where := "the GLOBAL cloud"
	if china {
		where = "the CHINA_21VIANET cloud"
	}
	return errs.New(errs.PaymentMethodNotSupported, "%s is not accepted in %s", method, where).With("field", "payment_method."+method)
}

// UnionPay number lengths.
const (
	MinUnionPayDigits = 16
	MaxUnionPayDigits = 19
)

// CheckedUnionPay is a UnionPay card that passed ValidateUnionPay. Number is
// for the payment processor only and is never kept; StoredUnionPay gives what
// may be.
type CheckedUnionPay struct {
	Number     string `json:"-"` // digits only
	Last4      string
	HolderName string // trimmed, may be empty
}

// String shows the card without its number.
func (c CheckedUnionPay) String() string { return "UNIONPAY " + Masked(c.Last4) }

// GoString is String, for %#v.
func (c CheckedUnionPay) GoString() string { return c.String() }

// Format prints String whatever the verb, as Checked.Format does.
func (c CheckedUnionPay) Format(f fmt.State, verb rune) { formatSafe(f, verb, c.String()) }

// LogValue is String, for log/slog.
func (c CheckedUnionPay) LogValue() slog.Value { return slog.StringValue(c.String()) }

// ValidateUnionPay checks a UnionPay card: 16 to 19 digits (spaces and
// hyphens ignored) passing Luhn and starting with 62 or 81, else INVALID_CARD
// on union_pay.number; an optional holder name of at most 200 characters.
func ValidateUnionPay(u *billingv1.UnionPay) (CheckedUnionPay, error) {
	number, err := normalize(u.GetNumber(), "union_pay.number")
	if err != nil {
		return CheckedUnionPay{}, err
	}
	switch {
	case len(number) < MinUnionPayDigits || len(number) > MaxUnionPayDigits:
		return CheckedUnionPay{}, errs.New(errs.InvalidCard, "a UnionPay number must have %d to %d digits", MinUnionPayDigits, MaxUnionPayDigits).With("field", "union_pay.number")
	case !Luhn(number):
		return CheckedUnionPay{}, errs.New(errs.InvalidCard, "the card number is not valid").With("field", "union_pay.number")
	case Brand(number) != billingv1.Card_UNIONPAY:
		return CheckedUnionPay{}, errs.New(errs.InvalidCard, "the card number is not a UnionPay number").With("field", "union_pay.number")
	}
	holder, err := checkHolderName(u.GetHolderName(), "union_pay.holder_name", false)
	if err != nil {
		return CheckedUnionPay{}, err
	}
	return CheckedUnionPay{Number: number, Last4: last4(number), HolderName: holder}, nil
}

// StoredUnionPay is all that is kept of a UnionPay card.
func StoredUnionPay(c CheckedUnionPay) *billingv1.UnionPay {
	return &billingv1.UnionPay{Last4: c.Last4, HolderName: c.HolderName}
}

// Bounds of an Alipay login.
const (
	MaxEmail        = 254
	MinMobileDigits = 6
	MaxMobileDigits = 15
)

// CheckedAlipay is an Alipay account that passed ValidateAlipay. Login is for
// the payment processor only; StoredAlipay gives what may be kept.
type CheckedAlipay struct {
	Login       string `json:"-"` // trimmed
	MaskedLogin string
	HolderName  string // trimmed, may be empty
}

// String shows the account by its masked login.
func (c CheckedAlipay) String() string { return "Alipay " + c.MaskedLogin }

// GoString is String, for %#v.
func (c CheckedAlipay) GoString() string { return c.String() }

// Format prints String whatever the verb, as Checked.Format does.
func (c CheckedAlipay) Format(f fmt.State, verb rune) { formatSafe(f, verb, c.String()) }

// LogValue is String, for log/slog.
func (c CheckedAlipay) LogValue() slog.Value { return slog.StringValue(c.String()) }

// ValidateAlipay checks an Alipay account: its login is an e-mail address or
// a mobile number of 6 to 15 digits with an optional leading +, else
// INVALID_FIELD on alipay.login_id; an optional holder name of at most 200
// characters.
func ValidateAlipay(a *billingv1.Alipay) (CheckedAlipay, error) {
	login := strings.TrimSpace(a.GetLoginId())
	var masked string
	switch {
	case login == "":
		return CheckedAlipay{}, errs.Field("alipay.login_id", "the Alipay login is required")
	case strings.Contains(login, "@"):
		if !isEmail(login) {
			return CheckedAlipay{}, errs.Field("alipay.login_id", "the Alipay login is not a valid e-mail address")
		}
		masked = maskEmail(login)
	default:
		if !isMobile(login) {
			return CheckedAlipay{}, errs.Field("alipay.login_id", "the Alipay login must be an e-mail address or a mobile number of %d to %d digits", MinMobileDigits, MaxMobileDigits)
		}
		masked = maskMobile(login)
	}
	holder, err := checkHolderName(a.GetHolderName(), "alipay.holder_name", false)
	if err != nil {
		return CheckedAlipay{}, err
	}
	return CheckedAlipay{Login: login, MaskedLogin: masked, HolderName: holder}, nil
}

// StoredAlipay is all that is kept of an Alipay account.
func StoredAlipay(c CheckedAlipay) *billingv1.Alipay {
	return &billingv1.Alipay{MaskedLoginId: c.MaskedLogin, HolderName: c.HolderName}
}

// isEmail accepts the common, unquoted form local@domain: a dot-atom local
// part of at most 64 characters and a domain of at least two DNS labels.
func isEmail(s string) bool {
	if len(s) > MaxEmail || strings.Count(s, "@") != 1 {
		return false
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" || len(local) > 64 || !dotted(local, isAtomChar) {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	return true
}

// dotted reports whether s is runs of ok characters joined by single dots.
func dotted(s string, ok func(byte) bool) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			if !ok(part[i]) {
				return false
			}
		}
	}
	return true
}

func isAtomChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+/=?^_`{|}~-", c) >= 0
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isMobile(s string) bool {
	digits := strings.TrimPrefix(s, "+")
	return len(digits) >= MinMobileDigits && len(digits) <= MaxMobileDigits && allDigits(digits)
}

// maskEmail keeps the first character of the local part and the domain:
// alice@example.com is a***@example.com.
func maskEmail(s string) string {
	local, domain, _ := strings.Cut(s, "@")
	return fmt.Sprintf("%c***@%s", local[0], domain)
}

// maskMobile keeps the last 4 digits: 13812341234 is *******1234.
func maskMobile(s string) string {
	digits := strings.TrimPrefix(s, "+")
	return strings.Repeat("*", len(digits)-4) + digits[len(digits)-4:]
}

// taxIDAlphabet is the characters of a unified social credit code, in the
// order of their values (GB 32100-2015: no I, O, S, V or Z).
const taxIDAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// taxIDWeights weigh the first 17 characters of a unified social credit code.
var taxIDWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// ValidTaxID tells whether s is a unified social credit code: 18 characters
// of its alphabet whose last is the check character of the others.
func ValidTaxID(s string) bool {
	if len(s) != 18 {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(taxIDAlphabet, s[i])
		if v < 0 {
			return false
		}
		sum += v * taxIDWeights[i]
	}
	check := (31 - sum%31) % 31
	return s[17] == taxIDAlphabet[check]
}

// ValidateInvoice checks payment by invoice: a company name of 1 to 200
// characters (as a holder name), and its unified social credit code (spaces ignored, letters
// upper-cased), else INVALID_FIELD on the field.
func ValidateInvoice(p *billingv1.InvoicePayment) (*billingv1.InvoicePayment, error) {
	name := strings.TrimSpace(p.GetCompanyName())
	if name == "" {
		return nil, errs.Field("invoice.company_name", "the company invoices are made out to is required")
	}
	if _, err := checkHolderName(name, "invoice.company_name", true); err != nil {
		return nil, errs.Field("invoice.company_name", "the company name must be text of at most %d characters without control characters", MaxHolderName)
	}
	id := strings.ToUpper(strings.ReplaceAll(p.GetTaxId(), " ", ""))
	if !ValidTaxID(id) {
		return nil, errs.Field("invoice.tax_id", "the tax id must be an 18-character unified social credit code with its check character")
	}
	return &billingv1.InvoicePayment{CompanyName: name, TaxId: id}, nil
}
