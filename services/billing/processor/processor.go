// Package processor is the payment processor billing talks to, behind an
// interface so that a real one can be plugged in later. Billing registers a
// payment method once (Tokenize) and keeps the returned Token instead of the
// card number; every charge and refund then goes through the token.
//
// The built-in processor is the deterministic Simulator (API.md §6
// "Simulator cards"). Its behaviour is written into the tokens it issues, so
// it survives restarts without keeping anything:
//
//   - card 4000000000000002: declined at Tokenize (ErrDeclined, code
//     card_declined); billing answers PAYMENT_DECLINED.
//   - card 4000000000009995: accepted; every charge declines with
//     insufficient_funds.
//   - card 4000000000000341: accepted; every charge declines with
//     card_declined.
//   - every other card: accepted; every charge approved.
//   - Alipay: a login containing "+decline" (any case, e.g.
//     buyer+decline@example.com) is declined at Tokenize (code declined); one
//     containing "+insufficient" is accepted and every charge declines with
//     insufficient_funds; every other login is accepted and paid.
//   - UnionPay: a number ending 0002 is declined at Tokenize (code
//     card_declined); one ending 9995 is accepted and every charge declines
//     with insufficient_funds; every other number is accepted and paid.
//   - Invoice (bank transfer): a company name containing "+decline" is
//     declined at Tokenize (code declined); one containing "+unpaid" is
//     accepted and its transfers never arrive, so every charge declines with
//     declined; for every other company the transfer is matched to the
//     invoice when it is charged.
//   - Refunds always succeed.
//
// A declined charge is a Result with Approved false, not an error: errors are
// for failures to reach the processor or requests it cannot process.
package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Processor registers payment methods and moves money.
type Processor interface {
	// Tokenize registers a method once. A method the processor refuses is an
	// error wrapping ErrDeclined (see DeclineCode).
	Tokenize(ctx context.Context, m Method) (Token, error)
	// Charge takes amount minor units of currency (ISO 4217) from tok. key is
	// an idempotency key: the same key gives the same Reference and moves the
	// money once, which billing relies on to pay before it records.
	Charge(ctx context.Context, tok Token, amount int64, currency, key string) (Result, error)
	// Refund gives amount minor units of currency back to tok, idempotent on key.
	Refund(ctx context.Context, tok Token, amount int64, currency, key string) (Result, error)
}

// Kind is the kind of a payment method.
type Kind string

// The kinds of payment method (the same words as cards.Method*).
const (
	KindCard     Kind = "card"
	KindAlipay   Kind = "alipay"
	KindUnionPay Kind = "union_pay"
	KindInvoice  Kind = "invoice"
)

// Method is what the processor needs to register a payment method. It holds
// secrets: it lives only for the Tokenize call and is never stored or
// logged (String and LogValue hide them).
type Method struct {
	Kind         Kind
	Number       string `json:"-"` // card and UnionPay: digits only
	ExpMonth     int32  // card
	ExpYear      int32  // card
	SecurityCode string `json:"-"` // card
	Login        string `json:"-"` // Alipay: e-mail address or mobile number
	Company      string // invoice: the company invoices are made out to
	TaxID        string // invoice: its unified social credit code
}

// String names the method without its secrets.
func (m Method) String() string {
	if m.Kind == KindAlipay {
		return "alipay method"
	}
	if m.Kind == KindInvoice {
		return "invoice method"
	}
	n := m.Number
	if len(n) > 4 {
		n = n[len(n)-4:]
	}
	return fmt.Sprintf("%s method ending %s", m.Kind, n)
}

// GoString is String, for %#v.
func (m Method) GoString() string { return m.String() }

// LogValue is String, for log/slog.
func (m Method) LogValue() slog.Value { return slog.StringValue(m.String()) }

// Token is the processor's opaque reference to a registered method, kept by
// billing instead of the number. It never holds the number, any part of it
// longer than 5 digits, or the security code.
type Token string

// Result is the outcome of a charge or refund the processor handled.
type Result struct {
	Approved    bool
	DeclineCode string // when not approved: one of the Decline* codes
	Reference   string // the processor's id of the transaction
}

// Decline codes.
const (
	DeclineInsufficientFunds = "insufficient_funds"
	DeclineCardDeclined      = "card_declined"
	DeclineDeclined          = "declined" // a method that is not a card
)

// ErrDeclined is wrapped by the error of a Tokenize the processor refused;
// billing maps it to PAYMENT_DECLINED.
var ErrDeclined = errors.New("processor: payment method declined")

// ErrInvalidRequest is wrapped by the error of a request the processor
// cannot process: an unknown token or kind, an amount that is not positive,
// a malformed currency, a missing idempotency key. It is a bug in the caller.
var ErrInvalidRequest = errors.New("processor: invalid request")

// DeclineError is the error of a declined Tokenize: errors.Is(err,
// ErrDeclined) holds, and Code says why.
type DeclineError struct {
	Code string
}

func (e *DeclineError) Error() string { return ErrDeclined.Error() + ": " + e.Code }

// Unwrap makes errors.Is(err, ErrDeclined) hold.
func (e *DeclineError) Unwrap() error { return ErrDeclined }

// DeclineCode returns the decline code of a declined Tokenize, or "" when err
// is not a decline.
func DeclineCode(err error) string {
	var d *DeclineError
	if errors.As(err, &d) {
		return d.Code
	}
	return ""
}
