package processor

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// The simulator's test cards (API.md §6).
const (
	SimDeclinedAtTokenize   = "4000000000000002"
	SimInsufficientFunds    = "4000000000009995"
	SimDeclinedCharges      = "4000000000000341"
	simAlipayDecline        = "+decline"
	simAlipayInsufficient   = "+insufficient"
	simUnionPayDecline      = "0002"
	simUnionPayInsufficient = "9995"
	simInvoiceDecline       = "+decline"
	simInvoiceUnpaid        = "+unpaid"
)

// Token prefixes: the behaviour of every later charge.
const (
	tokenOK           = "sim_ok_"
	tokenInsufficient = "sim_insufficient_"
	tokenDeclined     = "sim_declined_"
	tokenUnpaid       = "sim_unpaid_"
)

// Simulator is the deterministic built-in processor; see the package doc for
// its test methods. The zero value is ready to use and safe for concurrent
// use.
type Simulator struct{}

var _ Processor = (*Simulator)(nil)

// NewSimulator returns a simulator.
func NewSimulator() *Simulator { return &Simulator{} }

// Tokenize registers m, or declines it with a *DeclineError.
func (s *Simulator) Tokenize(ctx context.Context, m Method) (Token, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var prefix string
	switch m.Kind {
	case KindCard:
		if !digitsOfLength(m.Number, 12, 19) {
			return "", fmt.Errorf("%w: a card number has 12 to 19 digits", ErrInvalidRequest)
		}
		switch m.Number {
		case SimDeclinedAtTokenize:
			return "", &DeclineError{Code: DeclineCardDeclined}
		case SimInsufficientFunds:
			prefix = tokenInsufficient
		case SimDeclinedCharges:
			prefix = tokenDeclined
		default:
			prefix = tokenOK
		}
	case KindUnionPay:
		if !digitsOfLength(m.Number, 16, 19) {
			return "", fmt.Errorf("%w: a UnionPay number has 16 to 19 digits", ErrInvalidRequest)
		}
		switch {
		case strings.HasSuffix(m.Number, simUnionPayDecline):
			return "", &DeclineError{Code: DeclineCardDeclined}
		case strings.HasSuffix(m.Number, simUnionPayInsufficient):
			prefix = tokenInsufficient
		default:
			prefix = tokenOK
		}
	case KindAlipay:
		login := strings.ToLower(m.Login)
		switch {
		case login == "":
			return "", fmt.Errorf("%w: an Alipay login is required", ErrInvalidRequest)
		case strings.Contains(login, simAlipayDecline):
			return "", &DeclineError{Code: DeclineDeclined}
		case strings.Contains(login, simAlipayInsufficient):
			prefix = tokenInsufficient
		default:
			prefix = tokenOK
		}
	case KindInvoice:
		company := strings.ToLower(m.Company)
		switch {
		case company == "" || m.TaxID == "":
			return "", fmt.Errorf("%w: a company and its tax id are required", ErrInvalidRequest)
		case strings.Contains(company, simInvoiceDecline):
			return "", &DeclineError{Code: DeclineDeclined}
		case strings.Contains(company, simInvoiceUnpaid):
			prefix = tokenUnpaid
		default:
			prefix = tokenOK
		}
	default:
		return "", fmt.Errorf("%w: unknown payment method kind %q", ErrInvalidRequest, m.Kind)
	}
	return Token(prefix + randomLetters()), nil
}

// Charge approves, or declines as the token says.
func (s *Simulator) Charge(ctx context.Context, tok Token, amount int64, currency, key string) (Result, error) {
	if err := checkRequest(ctx, amount, currency, key); err != nil {
		return Result{}, err
	}
	ref := reference("sim_ch_", key)
	switch {
	case strings.HasPrefix(string(tok), tokenOK):
		return Result{Approved: true, Reference: ref}, nil
	case strings.HasPrefix(string(tok), tokenInsufficient):
		return Result{DeclineCode: DeclineInsufficientFunds, Reference: ref}, nil
	case strings.HasPrefix(string(tok), tokenDeclined):
		return Result{DeclineCode: DeclineCardDeclined, Reference: ref}, nil
	case strings.HasPrefix(string(tok), tokenUnpaid):
		return Result{DeclineCode: DeclineDeclined, Reference: ref}, nil
	}
	return Result{}, fmt.Errorf("%w: unknown token", ErrInvalidRequest)
}

// Refund always succeeds on a token of the simulator.
func (s *Simulator) Refund(ctx context.Context, tok Token, amount int64, currency, key string) (Result, error) {
	if err := checkRequest(ctx, amount, currency, key); err != nil {
		return Result{}, err
	}
	if !isSimToken(tok) {
		return Result{}, fmt.Errorf("%w: unknown token", ErrInvalidRequest)
	}
	return Result{Approved: true, Reference: reference("sim_re_", key)}, nil
}

func checkRequest(ctx context.Context, amount int64, currency, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case amount <= 0:
		return fmt.Errorf("%w: the amount must be positive, not %d", ErrInvalidRequest, amount)
	case !isCurrency(currency):
		return fmt.Errorf("%w: the currency must be an ISO 4217 code", ErrInvalidRequest)
	case key == "":
		return fmt.Errorf("%w: an idempotency key is required", ErrInvalidRequest)
	}
	return nil
}

func isSimToken(tok Token) bool {
	t := string(tok)
	return strings.HasPrefix(t, tokenOK) || strings.HasPrefix(t, tokenInsufficient) || strings.HasPrefix(t, tokenDeclined) || strings.HasPrefix(t, tokenUnpaid)
}

// reference derives a transaction id from the idempotency key alone, so the
// same key always names the same transaction.
func reference(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + hex.EncodeToString(sum[:])[:24]
}

// randomLetters is 128 random bits written with the letters a to p, one per
// 4 bits: a token holds no digit at all, so no run of a card number can
// appear in it, even by chance.
func randomLetters() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics instead)
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, 'a'+x>>4, 'a'+x&0x0f)
	}
	return string(out)
}

func digitsOfLength(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
