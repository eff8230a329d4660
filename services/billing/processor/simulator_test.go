package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func cardMethod(number, code string) Method {
	return Method{Kind: KindCard, Number: number, ExpMonth: 12, ExpYear: 2030, SecurityCode: code}
}

func TestSimulatorMethods(t *testing.T) {
	tests := []struct {
		name        string
		method      Method
		tokenizeErr string // decline code at Tokenize; empty: accepted
		chargeCode  string // decline code of every charge; empty: approved
	}{
		{name: "4242", method: cardMethod("4242424242424242", "123")},
		{name: "amex", method: cardMethod("378282246310005", "1234")},
		{name: "declined when added", method: cardMethod(SimDeclinedAtTokenize, "123"), tokenizeErr: DeclineCardDeclined},
		{name: "insufficient funds", method: cardMethod(SimInsufficientFunds, "123"), chargeCode: DeclineInsufficientFunds},
		{name: "charges declined", method: cardMethod(SimDeclinedCharges, "123"), chargeCode: DeclineCardDeclined},
		{name: "other Visa ending 0002", method: cardMethod("4111111111110002", "123")},

		{name: "alipay", method: Method{Kind: KindAlipay, Login: "alice@example.com"}},
		{name: "alipay mobile", method: Method{Kind: KindAlipay, Login: "+8613812341234"}},
		{name: "alipay +decline", method: Method{Kind: KindAlipay, Login: "buyer+decline@example.com"}, tokenizeErr: DeclineDeclined},
		{name: "alipay +DECLINE", method: Method{Kind: KindAlipay, Login: "Buyer+DECLINE@example.com"}, tokenizeErr: DeclineDeclined},
		{name: "alipay +insufficient", method: Method{Kind: KindAlipay, Login: "buyer+insufficient@example.com"}, chargeCode: DeclineInsufficientFunds},

		{name: "unionpay", method: Method{Kind: KindUnionPay, Number: "6200000000000005"}},
		{name: "unionpay ending 0002", method: Method{Kind: KindUnionPay, Number: "6200000000000002"}, tokenizeErr: DeclineCardDeclined},
		{name: "unionpay ending 9995", method: Method{Kind: KindUnionPay, Number: "6200000000009995"}, chargeCode: DeclineInsufficientFunds},

		{name: "invoice", method: Method{Kind: KindInvoice, Company: "Fabrikam", TaxID: "91350100M000100Y43"}},
		{name: "invoice +decline", method: Method{Kind: KindInvoice, Company: "Fabrikam+Decline", TaxID: "91350100M000100Y43"}, tokenizeErr: DeclineDeclined},
		{name: "invoice +unpaid", method: Method{Kind: KindInvoice, Company: "Fabrikam +unpaid", TaxID: "91350100M000100Y43"}, chargeCode: DeclineDeclined},
	}
	ctx := context.Background()
	sim := NewSimulator()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := sim.Tokenize(ctx, tt.method)
			if tt.tokenizeErr != "" {
				if !errors.Is(err, ErrDeclined) {
					t.Fatalf("Tokenize = %q, %v; want ErrDeclined", tok, err)
				}
				if got := DeclineCode(err); got != tt.tokenizeErr {
					t.Errorf("DeclineCode = %q, want %q", got, tt.tokenizeErr)
				}
				if tok != "" {
					t.Errorf("token %q with a decline", tok)
				}
				return
			}
			if err != nil {
				t.Fatalf("Tokenize: %v", err)
			}
			// Every charge, not only the first, behaves the same.
			for i := range 3 {
				key := fmt.Sprintf("%s-%d", tt.name, i)
				res, err := sim.Charge(ctx, tok, 1999, "EUR", key)
				if err != nil {
					t.Fatalf("Charge %d: %v", i, err)
				}
				if res.Approved != (tt.chargeCode == "") || res.DeclineCode != tt.chargeCode {
					t.Errorf("Charge %d = %+v, want declined %q", i, res, tt.chargeCode)
				}
				if !strings.HasPrefix(res.Reference, "sim_ch_") {
					t.Errorf("reference %q", res.Reference)
				}
			}
			// Refunds always succeed, even to a token whose charges fail.
			res, err := sim.Refund(ctx, tok, 500, "EUR", tt.name+"-refund")
			if err != nil || !res.Approved || res.DeclineCode != "" || !strings.HasPrefix(res.Reference, "sim_re_") {
				t.Errorf("Refund = %+v, %v", res, err)
			}
		})
	}
}

// TestTokensHoldNoSecret: a token never holds the number, any run of 6 of
// its digits, or the security code, and two tokenizations differ.
func TestTokensHoldNoSecret(t *testing.T) {
	ctx := context.Background()
	var sim Simulator // the zero value works
	seen := map[Token]bool{}
	for _, n := range []string{"4242424242424242", SimInsufficientFunds, SimDeclinedCharges, "5555555555554444", "378282246310005", "6011111111111117"} {
		code := "987"
		if strings.HasPrefix(n, "37") {
			code = "9876"
		}
		for range 50 {
			tok, err := sim.Tokenize(ctx, cardMethod(n, code))
			if err != nil {
				t.Fatal(err)
			}
			s := string(tok)
			for i := 0; i+6 <= len(n); i++ {
				if strings.Contains(s, n[i:i+6]) {
					t.Fatalf("token %q holds %s of %s", s, n[i:i+6], n)
				}
			}
			if strings.Contains(s, code) {
				t.Fatalf("token %q holds the security code", s)
			}
			if strings.ContainsAny(s, "0123456789") {
				t.Fatalf("token %q holds digits", s)
			}
			if seen[tok] {
				t.Fatalf("token %q issued twice", s)
			}
			seen[tok] = true
		}
	}
	tok, err := sim.Tokenize(ctx, Method{Kind: KindAlipay, Login: "alice@example.com"})
	if err != nil || strings.Contains(string(tok), "alice") {
		t.Errorf("Alipay token %q, %v", tok, err)
	}
}

// TestTokenSurvivesRestart: the behaviour is in the token, so a new
// simulator honours the tokens of an old one.
func TestTokenSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	tok, err := NewSimulator().Tokenize(ctx, cardMethod(SimInsufficientFunds, "123"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewSimulator().Charge(ctx, tok, 100, "USD", "k")
	if err != nil || res.Approved || res.DeclineCode != DeclineInsufficientFunds {
		t.Errorf("Charge after restart = %+v, %v", res, err)
	}
}

func TestReferences(t *testing.T) {
	ctx := context.Background()
	sim := NewSimulator()
	tok1, _ := sim.Tokenize(ctx, cardMethod("4242424242424242", "123"))
	tok2, _ := sim.Tokenize(ctx, cardMethod("5555555555554444", "123"))

	a, _ := sim.Charge(ctx, tok1, 100, "EUR", "invoice-1")
	b, _ := sim.Charge(ctx, tok1, 100, "EUR", "invoice-1")
	c, _ := sim.Charge(ctx, tok2, 100, "EUR", "invoice-1")
	d, _ := sim.Charge(ctx, tok1, 100, "EUR", "invoice-2")
	r1, _ := sim.Refund(ctx, tok1, 100, "EUR", "invoice-1")
	r2, _ := sim.Refund(ctx, tok1, 100, "EUR", "invoice-1")

	if a.Reference == "" || a.Reference != b.Reference || a.Reference != c.Reference {
		t.Errorf("same key, references %q %q %q", a.Reference, b.Reference, c.Reference)
	}
	if a.Reference == d.Reference {
		t.Errorf("different keys, same reference %q", a.Reference)
	}
	if r1.Reference != r2.Reference || r1.Reference == a.Reference {
		t.Errorf("refund references %q %q (charge %q)", r1.Reference, r2.Reference, a.Reference)
	}
	if len(a.Reference) != len("sim_ch_")+24 || len(r1.Reference) != len("sim_re_")+24 {
		t.Errorf("reference lengths %d %d", len(a.Reference), len(r1.Reference))
	}
	// A declined charge names its attempt the same way.
	tok3, _ := sim.Tokenize(ctx, cardMethod(SimDeclinedCharges, "123"))
	e, _ := sim.Charge(ctx, tok3, 100, "EUR", "invoice-1")
	if e.Approved || e.Reference != a.Reference {
		t.Errorf("declined charge %+v", e)
	}
}

func TestInvalidRequests(t *testing.T) {
	ctx := context.Background()
	sim := NewSimulator()
	tok, err := sim.Tokenize(ctx, cardMethod("4242424242424242", "123"))
	if err != nil {
		t.Fatal(err)
	}
	type call func() error
	charge := func(tok Token, amount int64, currency, key string) call {
		return func() error { _, err := sim.Charge(ctx, tok, amount, currency, key); return err }
	}
	refund := func(tok Token, amount int64, currency, key string) call {
		return func() error { _, err := sim.Refund(ctx, tok, amount, currency, key); return err }
	}
	tokenize := func(m Method) call {
		return func() error { _, err := sim.Tokenize(ctx, m); return err }
	}
	tests := []struct {
		name string
		call call
	}{
		{"charge 0", charge(tok, 0, "EUR", "k")},
		{"charge negative", charge(tok, -100, "EUR", "k")},
		{"charge lowercase currency", charge(tok, 100, "eur", "k")},
		{"charge no currency", charge(tok, 100, "", "k")},
		{"charge no key", charge(tok, 100, "EUR", "")},
		{"charge unknown token", charge("tok_visa", 100, "EUR", "k")},
		{"charge empty token", charge("", 100, "EUR", "k")},
		{"refund 0", refund(tok, 0, "EUR", "k")},
		{"refund negative", refund(tok, -1, "EUR", "k")},
		{"refund unknown token", refund("nope", 100, "EUR", "k")},
		{"tokenize no kind", tokenize(Method{Number: "4242424242424242"})},
		{"tokenize unknown kind", tokenize(Method{Kind: "paypal", Login: "a@example.com"})},
		{"tokenize short card", tokenize(cardMethod("42424242424", "123"))},
		{"tokenize spaced card", tokenize(cardMethod("4242 4242 4242 4242", "123"))},
		{"tokenize short unionpay", tokenize(Method{Kind: KindUnionPay, Number: "620000000000005"})},
		{"tokenize alipay without login", tokenize(Method{Kind: KindAlipay})},
	}
	for _, tt := range tests {
		err := tt.call()
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: err = %v, want ErrInvalidRequest", tt.name, err)
		}
		if errors.Is(err, ErrDeclined) {
			t.Errorf("%s: an invalid request is not a decline", tt.name)
		}
		if err != nil && strings.Contains(err.Error(), "4242424242") {
			t.Errorf("%s: error %q holds the number", tt.name, err)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sim := NewSimulator()
	if _, err := sim.Tokenize(ctx, cardMethod("4242424242424242", "123")); !errors.Is(err, context.Canceled) {
		t.Errorf("Tokenize: %v", err)
	}
	if _, err := sim.Charge(ctx, "sim_ok_abc", 100, "EUR", "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Charge: %v", err)
	}
	if _, err := sim.Refund(ctx, "sim_ok_abc", 100, "EUR", "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Refund: %v", err)
	}
}

func TestDeclineError(t *testing.T) {
	err := fmt.Errorf("adding the card: %w", &DeclineError{Code: DeclineCardDeclined})
	if !errors.Is(err, ErrDeclined) || DeclineCode(err) != DeclineCardDeclined {
		t.Errorf("wrapped decline: Is %v, code %q", errors.Is(err, ErrDeclined), DeclineCode(err))
	}
	if DeclineCode(errors.New("x")) != "" || DeclineCode(nil) != "" {
		t.Error("DeclineCode of a non-decline")
	}
}

// TestMethodHidesSecrets: printing, logging or JSON-encoding a Method shows
// neither the number, the security code nor the login.
func TestMethodHidesSecrets(t *testing.T) {
	for _, m := range []Method{
		cardMethod("4242424242424242", "987"),
		{Kind: KindUnionPay, Number: "6200000000000005"},
		{Kind: KindAlipay, Login: "alice@example.com"},
	} {
		js, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%+v", m), fmt.Sprintf("%#v", m), m.LogValue().String(), string(js)} {
			if m.Number != "" && strings.Contains(s, m.Number[:6]) {
				t.Errorf("%q shows the number", s)
			}
			if m.SecurityCode != "" && strings.Contains(s, m.SecurityCode) {
				t.Errorf("%q shows the security code", s)
			}
			if m.Login != "" && strings.Contains(s, "alice") {
				t.Errorf("%q shows the login", s)
			}
		}
	}
}
