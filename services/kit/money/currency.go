package money

import (
	"fmt"
	"strings"
)

// Currency is an ISO 4217 currency: its code and its minor-unit exponent
// (the number of decimals: 2 for EUR, 0 for JPY, 3 for KWD).
type Currency struct {
	Code     string
	Exponent int
}

// Active ISO 4217 codes grouped by exponent. Fund codes with no minor unit
// (XAU, XDR, ...) are left out: nothing here is priced in them.
var byExponent = map[int]string{
	0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
	2: "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL " +
		"BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK " +
		"DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG " +
		"HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD " +
		"MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK " +
		"NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD " +
		"SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH " +
		"USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG",
	3: "BHD IQD JOD KWD LYD OMR TND",
	4: "CLF UYW",
}

var exponents = func() map[string]int {
	m := make(map[string]int)
	for exp, codes := range byExponent {
		for _, c := range strings.Fields(codes) {
			m[c] = exp
		}
	}
	return m
}()

// Lookup finds a currency by its ISO 4217 code. The code must be exactly
// three uppercase ASCII letters: "eur" is malformed rather than guessed at,
// so a stored code always has one spelling.
func Lookup(code string) (Currency, error) {
	if len(code) != 3 {
		return Currency{}, fmt.Errorf("%w: %q", ErrMalformedCurrency, code)
	}
	for i := 0; i < 3; i++ {
		if code[i] < 'A' || code[i] > 'Z' {
			return Currency{}, fmt.Errorf("%w: %q", ErrMalformedCurrency, code)
		}
	}
	exp, ok := exponents[code]
	if !ok {
		return Currency{}, fmt.Errorf("%w: %q", ErrUnknownCurrency, code)
	}
	return Currency{Code: code, Exponent: exp}, nil
}
